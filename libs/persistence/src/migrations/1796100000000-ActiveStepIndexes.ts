import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The status indexes of runs and steps become partial indexes of what the
 * reconciler looks for (steps ready or running, by run; runs left running
 * with no step remaining). Indexes on the status alone invited the planner,
 * whenever its statistics had not seen the current burst of active runs, to
 * find one run or step by scanning every running one.
 */
export class ActiveStepIndexes1796100000000 implements MigrationInterface {
  name = 'ActiveStepIndexes1796100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."IDX_step_runs_status"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."IDX_workflow_runs_status"
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_step_runs_active" ON "step_runs" ("run_id")
            WHERE "status" IN ('ready', 'running')
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_workflow_runs_unfinished" ON "workflow_runs" ("id")
            WHERE "status" = 'running' AND "remaining_steps" = 0
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."IDX_workflow_runs_unfinished"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."IDX_step_runs_active"
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_workflow_runs_status" ON "workflow_runs" ("status")
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_step_runs_status" ON "step_runs" ("status")
        `);
  }
}
