import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export enum WorkflowRunStatus {
  Running = 'running',
  WaitingInput = 'waiting_input',
  Completed = 'completed',
  Failed = 'failed',
  Canceled = 'canceled',
}

/** One execution of a workflow version; PostgreSQL is its source of truth, the queue only carries work. */
@Entity({ name: 'workflow_runs' })
@Index('IDX_workflow_runs_tenant_created', ['tenantId', 'createdAt', 'id'])
@Index('IDX_workflow_runs_unfinished', ['id'], {
  where: `"status" = 'running' AND "remaining_steps" = 0`,
})
export class WorkflowRunEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 63 })
  tenantId!: string;

  @Column({ name: 'workflow_name', type: 'varchar', length: 63 })
  workflowName!: string;

  @Column({ name: 'workflow_version', type: 'integer' })
  workflowVersion!: number;

  /** The definition as it was when the run started. */
  @Column({ type: 'jsonb' })
  definition!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  input!: Record<string, unknown>;

  @Column({ type: 'varchar', length: 16 })
  status!: WorkflowRunStatus;

  /**
   * Steps not completed yet. Every step completion counts itself off in the
   * statement that completes it (the run's row lock orders them), so exactly
   * one completion sees 0: the one that finishes the run.
   */
  @Column({ name: 'remaining_steps', type: 'integer', default: 0 })
  remainingSteps!: number;

  @Column({ type: 'jsonb', nullable: true })
  output!: Record<string, unknown> | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;
}
