import type { MigrationInterface, QueryRunner } from 'typeorm';

export class A2aTasks1795515690961 implements MigrationInterface {
  name = 'A2aTasks1795515690961';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "a2a_push_configs" (
                "task_id" character varying(128) NOT NULL,
                "id" character varying(128) NOT NULL,
                "tenant_id" character varying(63) NOT NULL,
                "owner" character varying(128) NOT NULL,
                "agent" character varying(63) NOT NULL,
                "config" jsonb NOT NULL,
                "wire_version" character varying(8) NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_3c59faa5a08346570bfb1fefac4" PRIMARY KEY ("task_id", "id")
            )
        `);
    await queryRunner.query(`
            CREATE TABLE "a2a_tasks" (
                "id" character varying(128) NOT NULL,
                "tenant_id" character varying(63) NOT NULL,
                "owner" character varying(128) NOT NULL,
                "agent" character varying(63) NOT NULL,
                "context_id" character varying(128) NOT NULL,
                "state" character varying(32) NOT NULL,
                "status_timestamp" TIMESTAMP WITH TIME ZONE NOT NULL,
                "task" jsonb NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_ccfa35bad9776a90b7cda1d25a2" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_a2a_tasks_context" ON "a2a_tasks" ("tenant_id", "owner", "agent", "context_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_a2a_tasks_listing" ON "a2a_tasks" (
                "tenant_id",
                "owner",
                "agent",
                "status_timestamp",
                "id"
            )
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."IDX_a2a_tasks_listing"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."IDX_a2a_tasks_context"
        `);
    await queryRunner.query(`
            DROP TABLE "a2a_tasks"
        `);
    await queryRunner.query(`
            DROP TABLE "a2a_push_configs"
        `);
  }
}
