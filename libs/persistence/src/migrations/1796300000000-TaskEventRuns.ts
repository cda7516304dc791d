import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The task event log keeps the events of a task written together as one row
 * (`events`, a JSON array), numbered by its last event (`seq`): a turn's
 * events of a task cost one row and one index entry, not one each.
 * Existing rows become runs of one event; going down splits the runs again.
 */
export class TaskEventRuns1796300000000 implements MigrationInterface {
  name = 'TaskEventRuns1796300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "a2a_task_events" RENAME COLUMN "event" TO "events"
        `);
    await queryRunner.query(`
            UPDATE "a2a_task_events" SET "events" = jsonb_build_array("events")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TEMPORARY TABLE "a2a_task_event_runs" AS
            SELECT "task_id", "seq", "events", "created_at" FROM "a2a_task_events"
        `);
    await queryRunner.query(`
            DELETE FROM "a2a_task_events"
        `);
    await queryRunner.query(`
            ALTER TABLE "a2a_task_events" RENAME COLUMN "events" TO "event"
        `);
    await queryRunner.query(`
            INSERT INTO "a2a_task_events" ("task_id", "seq", "event", "created_at")
            SELECT r."task_id", r."seq" - jsonb_array_length(r."events") + e."ord", e."item", r."created_at"
            FROM "a2a_task_event_runs" r, jsonb_array_elements(r."events") WITH ORDINALITY AS e("item", "ord")
        `);
    await queryRunner.query(`
            DROP TABLE "a2a_task_event_runs"
        `);
  }
}
