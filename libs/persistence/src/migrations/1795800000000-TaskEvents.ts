import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TaskEvents1795800000000 implements MigrationInterface {
  name = 'TaskEvents1795800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "a2a_task_events" (
                "task_id" character varying(128) NOT NULL,
                "seq" integer NOT NULL,
                "event" jsonb NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_a2a_task_events" PRIMARY KEY ("task_id", "seq")
            )
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP TABLE "a2a_task_events"
        `);
  }
}
