import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SigningKeys1795700000000 implements MigrationInterface {
  name = 'SigningKeys1795700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "signing_keys" (
                "kid" character varying(64) NOT NULL,
                "algorithm" character varying(16) NOT NULL,
                "private_key" text NOT NULL,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_signing_keys_kid" PRIMARY KEY ("kid")
            )
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP TABLE "signing_keys"
        `);
  }
}
