import { WorkflowNamePipe } from '../workflows/workflow-name.pipe.js';
import { CurrentAuth, type AuthContext } from '@app/security';
import { WorkflowRunStatus } from '@app/persistence';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { Transform } from 'class-transformer';
import type { FastifyReply } from 'fastify';
import {
  IsBoolean,
  IsEnum,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { RunsService, type RunList, type RunView } from './runs.service.js';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;

/** `GET /runs?workflow=&status=&page=&pageSize=`, newest first. */
export class ListRunsQuery {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  workflow?: string;

  @IsOptional()
  @IsEnum(WorkflowRunStatus, {
    message: 'status must be one of ' + Object.values(WorkflowRunStatus).join(', '),
  })
  status?: WorkflowRunStatus;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  page?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  pageSize?: number;
}

/** Whether to answer once the run has finished (or paused) rather than at once. */
class WaitForRun {
  @IsOptional()
  @IsBoolean()
  wait?: boolean;

  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(300_000)
  waitTimeoutMs?: number;
}

export class StartRunDto extends WaitForRun {
  @IsOptional()
  @IsObject()
  input?: Record<string, unknown>;
}

export class ResumeRunDto extends WaitForRun {
  /** The answer, as text… */
  @IsOptional()
  @IsString()
  @MaxLength(100_000)
  text?: string;

  /** …or as data. */
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

@Controller()
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  /** Starts a run of the workflow's latest version: 202 with the run at once, or 200 once it is done with `wait`. */
  @Post('workflows/:name/runs')
  async start(
    @CurrentAuth() auth: AuthContext,
    @Param('name', WorkflowNamePipe) name: string,
    @Body() body: StartRunDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunView> {
    const run = await this.runs.start(auth, name, body.input ?? {});
    if (!body.wait) {
      void reply.status(202);
      return run;
    }
    void reply.status(200);
    return this.runs.waitFor(auth, run.id, body.waitTimeoutMs ?? 60_000);
  }

  /** Answers the question of a run waiting for input; the paused step continues the same A2A task. */
  @Post('runs/:id/input')
  @HttpCode(200)
  async input(
    @CurrentAuth() auth: AuthContext,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: ResumeRunDto,
  ): Promise<RunView> {
    const run = await this.runs.resume(auth, id, body.text ?? body.data);
    return body.wait ? this.runs.waitFor(auth, run.id, body.waitTimeoutMs ?? 60_000) : run;
  }

  /** Cancels a run that has not finished; a finished one is answered as it is. */
  @Post('runs/:id/cancel')
  @HttpCode(200)
  cancel(
    @CurrentAuth() auth: AuthContext,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<RunView> {
    return this.runs.cancel(auth, id);
  }

  /** The tenant's runs, newest first, without their steps. */
  @Get('runs')
  list(@CurrentAuth() auth: AuthContext, @Query() query: ListRunsQuery): Promise<RunList> {
    return this.runs.list(auth, query);
  }

  @Get('runs/:id')
  get(
    @CurrentAuth() auth: AuthContext,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<RunView> {
    return this.runs.get(auth, id);
  }
}
