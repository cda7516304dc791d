import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WorkflowRuns1795520382413 implements MigrationInterface {
  name = 'WorkflowRuns1795520382413';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "workflow_runs" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" character varying(63) NOT NULL,
                "workflow_name" character varying(63) NOT NULL,
                "workflow_version" integer NOT NULL,
                "definition" jsonb NOT NULL,
                "input" jsonb NOT NULL,
                "status" character varying(16) NOT NULL,
                "output" jsonb,
                "error" text,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "completed_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_eea9f8d0a660b3f48114c313233" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_workflow_runs_tenant_created" ON "workflow_runs" ("tenant_id", "created_at")
        `);
    await queryRunner.query(`
            CREATE TABLE "step_runs" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "run_id" uuid NOT NULL,
                "tenant_id" character varying(63) NOT NULL,
                "step_id" character varying(63) NOT NULL,
                "status" character varying(16) NOT NULL,
                "remaining_deps" integer NOT NULL,
                "attempt" integer NOT NULL DEFAULT '0',
                "agent_url" character varying(2048),
                "task_id" character varying(128),
                "output" jsonb,
                "error" text,
                "started_at" TIMESTAMP WITH TIME ZONE,
                "completed_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_5786a3a2b02a77b446ce02c4c09" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_step_runs_status" ON "step_runs" ("status")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_step_runs_run_step" ON "step_runs" ("run_id", "step_id")
        `);
    await queryRunner.query(`
            ALTER TABLE "step_runs"
            ADD CONSTRAINT "FK_2d7688ae3e7bc87403191972cdf" FOREIGN KEY ("run_id") REFERENCES "workflow_runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "step_runs" DROP CONSTRAINT "FK_2d7688ae3e7bc87403191972cdf"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."UQ_step_runs_run_step"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."IDX_step_runs_status"
        `);
    await queryRunner.query(`
            DROP TABLE "step_runs"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."IDX_workflow_runs_tenant_created"
        `);
    await queryRunner.query(`
            DROP TABLE "workflow_runs"
        `);
  }
}
