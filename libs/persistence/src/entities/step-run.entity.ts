import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { WorkflowRunEntity } from './workflow-run.entity.js';

export enum StepRunStatus {
  Pending = 'pending',
  Ready = 'ready',
  Running = 'running',
  WaitingInput = 'waiting_input',
  Completed = 'completed',
  Failed = 'failed',
  Canceled = 'canceled',
}

/** One step of a run: its state, attempts, the agent that served it, timings and output or error. */
@Entity({ name: 'step_runs' })
@Index('UQ_step_runs_run_step', ['runId', 'stepId'], { unique: true })
@Index('IDX_step_runs_active', ['runId'], { where: `"status" IN ('ready', 'running')` })
export class StepRunEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'run_id', type: 'uuid' })
  runId!: string;

  @ManyToOne(() => WorkflowRunEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'run_id' })
  run?: WorkflowRunEntity;

  @Column({ name: 'tenant_id', type: 'varchar', length: 63 })
  tenantId!: string;

  @Column({ name: 'step_id', type: 'varchar', length: 63 })
  stepId!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: StepRunStatus;

  /** Dependencies not completed yet; the step is ready at 0 (fan-in is counted here). */
  @Column({ name: 'remaining_deps', type: 'integer' })
  remainingDeps!: number;

  @Column({ type: 'integer', default: 0 })
  attempt!: number;

  @Column({ name: 'agent_url', type: 'varchar', length: 2048, nullable: true })
  agentUrl!: string | null;

  @Column({ name: 'task_id', type: 'varchar', length: 128, nullable: true })
  taskId!: string | null;

  /** The agent's context of the task, to continue it after INPUT_REQUIRED. */
  @Column({ name: 'context_id', type: 'varchar', length: 128, nullable: true })
  contextId!: string | null;

  /**
   * Context id of the agent call in flight, recorded before the call and
   * cleared once its outcome is known. A later attempt that finds it set asks
   * the agent for the task of that context before calling again.
   */
  @Column({ name: 'call_context_id', type: 'varchar', length: 128, nullable: true })
  callContextId!: string | null;

  /** The caller's answer to the agent's question, sent when the step resumes. */
  @Column({ name: 'resume_input', type: 'jsonb', nullable: true })
  resumeInput!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  output!: Record<string, unknown> | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;
}
