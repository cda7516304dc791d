import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AgentRegistrations1795517673236 implements MigrationInterface {
  name = 'AgentRegistrations1795517673236';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "agent_registrations" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" character varying(63) NOT NULL,
                "shared" boolean NOT NULL DEFAULT false,
                "agent_name" character varying(200) NOT NULL,
                "card_url" character varying(2048) NOT NULL,
                "url" character varying(2048) NOT NULL,
                "card" jsonb NOT NULL,
                "card_etag" character varying(256),
                "status" character varying(16) NOT NULL DEFAULT 'healthy',
                "skills" text array NOT NULL DEFAULT '{}',
                "tags" text array NOT NULL DEFAULT '{}',
                "input_modes" text array NOT NULL DEFAULT '{}',
                "output_modes" text array NOT NULL DEFAULT '{}',
                "search" tsvector,
                "last_heartbeat_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "last_probe_at" TIMESTAMP WITH TIME ZONE,
                "last_probe_ok" boolean,
                "last_probe_error" character varying(500),
                "latency_ms" integer,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_86528b804ead387724f949149df" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_agent_registrations_status" ON "agent_registrations" ("status", "last_heartbeat_at")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_agent_registrations_tenant_card_url" ON "agent_registrations" ("tenant_id", "card_url")
        `);
    // Discovery filters: TypeORM cannot declare GIN indexes, so they live here only.
    await queryRunner.query(
      `CREATE INDEX "IDX_agent_registrations_skills" ON "agent_registrations" USING GIN ("skills")`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_agent_registrations_tags" ON "agent_registrations" USING GIN ("tags")`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_agent_registrations_search" ON "agent_registrations" USING GIN ("search")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_agent_registrations_search"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_agent_registrations_tags"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_agent_registrations_skills"`);
    await queryRunner.query(`
            DROP INDEX "public"."UQ_agent_registrations_tenant_card_url"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."IDX_agent_registrations_status"
        `);
    await queryRunner.query(`
            DROP TABLE "agent_registrations"
        `);
  }
}
