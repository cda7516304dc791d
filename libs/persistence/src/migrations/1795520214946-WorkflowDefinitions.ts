import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WorkflowDefinitions1795520214946 implements MigrationInterface {
  name = 'WorkflowDefinitions1795520214946';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "workflow_definitions" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "tenant_id" character varying(63) NOT NULL,
                "name" character varying(63) NOT NULL,
                "version" integer NOT NULL,
                "definition" jsonb NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_4f92fadfc5fb722f080ceaec272" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "UQ_workflow_definitions_version" ON "workflow_definitions" ("tenant_id", "name", "version")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."UQ_workflow_definitions_version"
        `);
    await queryRunner.query(`
            DROP TABLE "workflow_definitions"
        `);
  }
}
