import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RunRemainingSteps1795900000000 implements MigrationInterface {
  name = 'RunRemainingSteps1795900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "workflow_runs"
            ADD "remaining_steps" integer NOT NULL DEFAULT '0'
        `);
    await queryRunner.query(`
            UPDATE "workflow_runs" r
            SET "remaining_steps" = (
              SELECT count(*) FROM "step_runs" s WHERE s."run_id" = r."id" AND s."status" <> 'completed'
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_workflow_runs_status" ON "workflow_runs" ("status")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."IDX_workflow_runs_status"
        `);
    await queryRunner.query(`
            ALTER TABLE "workflow_runs" DROP COLUMN "remaining_steps"
        `);
  }
}
