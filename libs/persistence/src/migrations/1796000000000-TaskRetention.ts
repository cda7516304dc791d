import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Finished tasks by the time of their last write, for the retention sweep;
 * partial, so that live tasks (the busy rows) never touch it, and on a
 * column that no API query filters or sorts by, so that the planner never
 * takes it for a listing.
 */
export class TaskRetention1796000000000 implements MigrationInterface {
  name = 'TaskRetention1796000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE INDEX "IDX_a2a_tasks_finished" ON "a2a_tasks" ("updated_at")
            WHERE "state" IN ('TASK_STATE_COMPLETED', 'TASK_STATE_FAILED', 'TASK_STATE_CANCELED', 'TASK_STATE_REJECTED')
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."IDX_a2a_tasks_finished"
        `);
  }
}
