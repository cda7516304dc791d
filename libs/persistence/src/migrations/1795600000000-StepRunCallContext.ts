import type { MigrationInterface, QueryRunner } from 'typeorm';

export class StepRunCallContext1795600000000 implements MigrationInterface {
  name = 'StepRunCallContext1795600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "step_runs"
            ADD "call_context_id" character varying(128)
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "step_runs" DROP COLUMN "call_context_id"
        `);
  }
}
