import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export enum RegistrationStatus {
  Healthy = 'healthy',
  Unhealthy = 'unhealthy',
}

/**
 * One running instance of an agent, as registered with the registry. Several
 * instances of one agent share the card name and differ by URL. The card is
 * kept in A2A v1.0 wire form; the array and text-search columns are what
 * discovery filters on (their GIN indexes are created by the migration).
 */
@Entity({ name: 'agent_registrations' })
@Index('UQ_agent_registrations_tenant_card_url', ['tenantId', 'cardUrl'], { unique: true })
@Index('IDX_agent_registrations_status', ['status', 'lastHeartbeatAt'])
export class AgentRegistrationEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 63 })
  tenantId!: string;

  /** Published to every tenant by an admin key. */
  @Column({ type: 'boolean', default: false })
  shared!: boolean;

  @Column({ name: 'agent_name', type: 'varchar', length: 200 })
  agentName!: string;

  /** Where the instance's card is served; probes fetch it from there. */
  @Column({ name: 'card_url', type: 'varchar', length: 2048 })
  cardUrl!: string;

  /** Preferred endpoint of the instance, from the card's first interface. */
  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  @Column({ type: 'jsonb' })
  card!: Record<string, unknown>;

  @Column({ name: 'card_etag', type: 'varchar', length: 256, nullable: true })
  cardEtag!: string | null;

  @Column({ type: 'varchar', length: 16, default: RegistrationStatus.Healthy })
  status!: RegistrationStatus;

  @Index('IDX_agent_registrations_skills', { synchronize: false })
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  skills!: string[];

  @Index('IDX_agent_registrations_tags', { synchronize: false })
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags!: string[];

  @Column({ name: 'input_modes', type: 'text', array: true, default: () => "'{}'" })
  inputModes!: string[];

  @Column({ name: 'output_modes', type: 'text', array: true, default: () => "'{}'" })
  outputModes!: string[];

  /** Name, description and skills, for full-text discovery. */
  @Index('IDX_agent_registrations_search', { synchronize: false })
  @Column({ type: 'tsvector', select: false, nullable: true })
  search!: string | null;

  @Column({ name: 'last_heartbeat_at', type: 'timestamptz' })
  lastHeartbeatAt!: Date;

  @Column({ name: 'last_probe_at', type: 'timestamptz', nullable: true })
  lastProbeAt!: Date | null;

  @Column({ name: 'last_probe_ok', type: 'boolean', nullable: true })
  lastProbeOk!: boolean | null;

  @Column({ name: 'last_probe_error', type: 'varchar', length: 500, nullable: true })
  lastProbeError!: string | null;

  @Column({ name: 'latency_ms', type: 'integer', nullable: true })
  latencyMs!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
