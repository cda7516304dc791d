import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * An A2A task of one hosted agent. `task` holds the task in its ProtoJSON wire
 * form; the other columns are what lookups and listings filter and sort on.
 * Every query is scoped by tenant, owner (the caller) and agent.
 */
@Entity({ name: 'a2a_tasks' })
@Index('IDX_a2a_tasks_listing', ['tenantId', 'owner', 'agent', 'statusTimestamp', 'id'])
@Index('IDX_a2a_tasks_context', ['tenantId', 'owner', 'agent', 'contextId'])
@Index('IDX_a2a_tasks_finished', ['updatedAt'], {
  where: `"state" IN ('TASK_STATE_COMPLETED', 'TASK_STATE_FAILED', 'TASK_STATE_CANCELED', 'TASK_STATE_REJECTED')`,
})
export class A2aTaskEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 63 })
  tenantId!: string;

  /** The principal that created the task (an API key id). */
  @Column({ type: 'varchar', length: 128 })
  owner!: string;

  /** The hosted agent the task belongs to (its name in the path). */
  @Column({ type: 'varchar', length: 63 })
  agent!: string;

  @Column({ name: 'context_id', type: 'varchar', length: 128 })
  contextId!: string;

  /** ProtoJSON task state, e.g. TASK_STATE_COMPLETED. */
  @Column({ type: 'varchar', length: 32 })
  state!: string;

  @Column({ name: 'status_timestamp', type: 'timestamptz' })
  statusTimestamp!: Date;

  @Column({ type: 'jsonb' })
  task!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
