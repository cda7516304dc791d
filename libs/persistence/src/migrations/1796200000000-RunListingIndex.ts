import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A tenant's runs are listed newest first with the id breaking ties: with the
 * id in the index, the index gives that order itself, and a page reads the
 * runs before it and no more. On (tenant, created) alone, the planner sorted
 * all of a tenant's runs whenever its statistics underestimated them.
 */
export class RunListingIndex1796200000000 implements MigrationInterface {
  name = 'RunListingIndex1796200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."IDX_workflow_runs_tenant_created"
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_workflow_runs_tenant_created" ON "workflow_runs" ("tenant_id", "created_at", "id")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."IDX_workflow_runs_tenant_created"
        `);
    await queryRunner.query(`
            CREATE INDEX "IDX_workflow_runs_tenant_created" ON "workflow_runs" ("tenant_id", "created_at")
        `);
  }
}
