import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** An organisation or team using the platform; every tenant-owned row points here. */
@Entity({ name: 'tenants' })
export class TenantEntity {
  /** A lower-case slug, stable and readable in logs, URLs and metrics. */
  @PrimaryColumn({ type: 'varchar', length: 63 })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
