import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A run of a task's events written together, in the order the executor
 * published them: the log a subscriber replays (from any replica) before
 * following the live events. Events are numbered 1, 2, 3 … per task; a run
 * holds the events `seq - events.length + 1` to `seq`.
 */
@Entity({ name: 'a2a_task_events' })
export class A2aTaskEventEntity {
  @PrimaryColumn({ name: 'task_id', type: 'varchar', length: 128 })
  taskId!: string;

  /** The number of the run's last event. */
  @PrimaryColumn({ type: 'integer' })
  seq!: number;

  /** The events, each a StreamResponse in ProtoJSON wire form. */
  @Column({ type: 'jsonb' })
  events!: Array<Record<string, unknown>>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
