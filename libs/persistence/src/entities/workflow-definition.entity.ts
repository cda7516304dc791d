import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One version of a tenant's workflow; a save never changes a version, it adds the next one. */
@Entity({ name: 'workflow_definitions' })
@Index('UQ_workflow_definitions_version', ['tenantId', 'name', 'version'], { unique: true })
export class WorkflowDefinitionEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 63 })
  tenantId!: string;

  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Column({ type: 'integer' })
  version!: number;

  /** The validated definition (steps, templates, policies). */
  @Column({ type: 'jsonb' })
  definition!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
