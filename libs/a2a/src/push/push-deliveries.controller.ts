import { ApiKeyRole } from '@app/persistence';
import { JobName, QueueName, type JobPayloads } from '@app/queues';
import { CurrentAuth, type AuthContext } from '@app/security';
import { InjectQueue } from '@nestjs/bullmq';
import {
  BadRequestException,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import type { Job, Queue } from 'bullmq';

type Delivery = JobPayloads[JobName.DeliverPushNotification];

const STATES = ['failed', 'waiting', 'delayed', 'active', 'completed'] as const;
type DeliveryState = (typeof STATES)[number];

export interface PushDeliveryView {
  readonly id: string;
  readonly state: string;
  readonly tenantId: string;
  readonly agent: string;
  readonly taskId: string;
  readonly pushConfigId: string;
  readonly eventId: string;
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  readonly failedReason?: string;
  readonly createdAt: string;
  readonly finishedAt?: string;
}

async function viewOf(job: Job<Delivery>): Promise<PushDeliveryView> {
  return {
    id: job.id ?? '',
    state: await job.getState(),
    tenantId: job.data.tenantId,
    agent: job.data.agent,
    taskId: job.data.taskId,
    pushConfigId: job.data.pushConfigId,
    eventId: job.data.eventId,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    createdAt: new Date(job.timestamp).toISOString(),
    ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
  };
}

/**
 * Push notification deliveries, for operators (admin keys only): list them by
 * state (by default the failed ones, kept after their last attempt) and
 * re-drive a failed one.
 */
@Controller('admin/push-deliveries')
export class PushDeliveriesController {
  constructor(@InjectQueue(QueueName.PushDeliveries) private readonly queue: Queue<Delivery>) {}

  @Get()
  async list(
    @CurrentAuth() auth: AuthContext,
    @Query('state') state = 'failed',
    @Query('limit') limit = '50',
  ): Promise<{ deliveries: PushDeliveryView[] }> {
    requireAdmin(auth);
    if (!isDeliveryState(state)) {
      throw new BadRequestException(`state must be one of ${STATES.join(', ')}`);
    }
    const size = Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) {
      throw new BadRequestException('limit must be an integer between 1 and 500');
    }
    const jobs = await this.queue.getJobs([state], 0, size - 1);
    // The queue also carries the retention sweep: only deliveries are listed.
    const deliveries = jobs.filter(
      (job) => job?.name === (JobName.DeliverPushNotification as string),
    );
    return { deliveries: await Promise.all(deliveries.map(viewOf)) };
  }

  @Get(':id')
  async get(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<PushDeliveryView> {
    requireAdmin(auth);
    return viewOf(await this.find(id));
  }

  /** Puts a failed delivery back on the queue with a fresh set of attempts. */
  @Post(':id/retry')
  @HttpCode(202)
  async retry(
    @CurrentAuth() auth: AuthContext,
    @Param('id') id: string,
  ): Promise<PushDeliveryView> {
    requireAdmin(auth);
    const job = await this.find(id);
    if ((await job.getState()) !== 'failed') {
      throw new ConflictException(`Delivery ${id} has not failed`);
    }
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return viewOf((await this.queue.getJob(id)) ?? job);
  }

  private async find(id: string): Promise<Job<Delivery>> {
    const job = /^[\w:-]{1,128}$/.test(id) ? await this.queue.getJob(id) : undefined;
    if (job === undefined || job.name !== (JobName.DeliverPushNotification as string)) {
      throw new NotFoundException(`No push delivery ${id}`);
    }
    return job;
  }
}

function isDeliveryState(value: string): value is DeliveryState {
  return (STATES as readonly string[]).includes(value);
}

function requireAdmin(auth: AuthContext): void {
  if (auth.role !== ApiKeyRole.Admin) {
    throw new ForbiddenException('Push deliveries are visible to admin keys only');
  }
}
