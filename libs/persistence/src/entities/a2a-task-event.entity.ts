import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * One event of a task, in the order the executor published it: the log a
 * subscriber replays (from any replica) before following the live events.
 */
@Entity({ name: 'a2a_task_events' })
export class A2aTaskEventEntity {
  @PrimaryColumn({ name: 'task_id', type: 'varchar', length: 128 })
  taskId!: string;

  /** 1, 2, 3 … per task. */
  @PrimaryColumn({ type: 'integer' })
  seq!: number;

  /** The event as a StreamResponse in ProtoJSON wire form. */
  @Column({ type: 'jsonb' })
  event!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
