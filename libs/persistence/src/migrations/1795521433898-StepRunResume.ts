import type { MigrationInterface, QueryRunner } from 'typeorm';

export class StepRunResume1795521433898 implements MigrationInterface {
  name = 'StepRunResume1795521433898';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "step_runs"
            ADD "context_id" character varying(128)
        `);
    await queryRunner.query(`
            ALTER TABLE "step_runs"
            ADD "resume_input" jsonb
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "step_runs" DROP COLUMN "resume_input"
        `);
    await queryRunner.query(`
            ALTER TABLE "step_runs" DROP COLUMN "context_id"
        `);
  }
}
