import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * The platform's generated signing key, used only when no key is configured
 * (A2A_SIGNING_KEY): every replica signs with the same key, so a receiver
 * verifies against the JWKS of any of them.
 */
@Entity({ name: 'signing_keys' })
export class SigningKeyEntity {
  /** JWK thumbprint (RFC 7638) of the public key, used as `kid`. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  kid!: string;

  @Column({ type: 'varchar', length: 16 })
  algorithm!: string;

  /** PKCS #8 PEM. */
  @Column({ name: 'private_key', type: 'text' })
  privateKey!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
