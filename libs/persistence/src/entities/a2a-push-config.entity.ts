import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A push-notification config of one task, in ProtoJSON wire form; scoped like its task. */
@Entity({ name: 'a2a_push_configs' })
export class A2aPushConfigEntity {
  @PrimaryColumn({ name: 'task_id', type: 'varchar', length: 128 })
  taskId!: string;

  @PrimaryColumn({ type: 'varchar', length: 128 })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 63 })
  tenantId!: string;

  @Column({ type: 'varchar', length: 128 })
  owner!: string;

  @Column({ type: 'varchar', length: 63 })
  agent!: string;

  @Column({ type: 'jsonb' })
  config!: Record<string, unknown>;

  /** Wire version the config was created with ("1.0" or "0.3"): notifications go out in that shape. */
  @Column({ name: 'wire_version', type: 'varchar', length: 8 })
  wireVersion!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
