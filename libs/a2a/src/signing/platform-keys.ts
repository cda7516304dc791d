import { AgentCard, generateAgentCardSignature } from '@a2a-js/sdk';
import type { PlatformConfigService } from '@app/config';
import { DatabaseLifecycle, SigningKeyEntity } from '@app/persistence';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { DataSource } from 'typeorm';

/** Where the public keys are served, relative to an app's base URL. */
export const JWKS_PATH = '/.well-known/jwks.json';

interface LoadedKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

/** The JWS algorithm a private key signs with; other key types are refused at start-up. */
function algorithmOf(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
      if (key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'ES384';
      break;
    case 'ed25519':
      return 'EdDSA';
    case 'rsa':
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
      break;
  }
  throw new Error(
    'A2A_SIGNING_KEY must be an EC P-256 / P-384, Ed25519 or RSA (>= 2048 bits) private key',
  );
}

async function describeKey(privateKey: KeyObject, kid?: string): Promise<LoadedKey> {
  const alg = algorithmOf(privateKey);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const id = kid ?? (await calculateJwkThumbprint(jwk, 'sha256'));
  return { kid: id, alg, privateKey, publicJwk: { ...jwk, kid: id, alg, use: 'sig' } };
}

/**
 * The platform's signing key: it signs the JWT of every push notification and,
 * when a key is configured, every served Agent Card; its public half is served
 * as a JWKS. Without A2A_SIGNING_KEY, the first replica generates an ES256 key
 * and keeps it in PostgreSQL so that all replicas sign with the same key.
 */
@Injectable()
export class PlatformKeys implements OnModuleInit {
  private readonly logger = new Logger(PlatformKeys.name);
  private key?: LoadedKey;
  private configured = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly database: DatabaseLifecycle,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
  ) {}

  async onModuleInit(): Promise<void> {
    const a2a = this.config.get('a2a', { infer: true });
    if (a2a.signingKey !== undefined) {
      this.key = await describeKey(createPrivateKey(a2a.signingKey), a2a.signingKeyId);
      this.configured = true;
      this.logger.log(`Signing key ${this.key.kid} (${this.key.alg}, configured)`);
      return;
    }
    this.database.onReady('signing key', async () => {
      this.key = await this.storedKey();
      this.logger.log(
        `Signing key ${this.key.kid} (${this.key.alg}, generated once, in PostgreSQL)`,
      );
    });
  }

  /** The public keys, as served at {@link JWKS_PATH}. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.loaded().publicJwk] };
  }

  /** A compact JWT over `claims`, with `iat` and `exp` (5 minutes). */
  signJwt(claims: Record<string, unknown>): Promise<string> {
    const key = this.loaded();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
  }

  /** Whether served cards carry a signature (only with a configured key). */
  get signsCards(): boolean {
    return this.configured;
  }

  /**
   * Signs a card in ProtoJSON wire form (JWS over its RFC 8785 canonical form)
   * and returns the wire form with the signature added. The SDK's signer is
   * given the wire form: given an SDK object it would lose the security schemes.
   */
  async signCard(wire: Record<string, unknown>, jwksUrl: string): Promise<Record<string, unknown>> {
    const key = this.loaded();
    const sign = generateAgentCardSignature(key.privateKey, {
      alg: key.alg,
      kid: key.kid,
      typ: 'JOSE',
      jku: jwksUrl,
    });
    const signed = await sign(wire as unknown as AgentCard);
    return { ...wire, signatures: signed.signatures };
  }

  private loaded(): LoadedKey {
    if (this.key === undefined)
      throw new Error('The signing key is not loaded yet (database not ready)');
    return this.key;
  }

  private async storedKey(): Promise<LoadedKey> {
    const repository = this.dataSource.getRepository(SigningKeyEntity);
    let row = await repository.findOne({ where: {}, order: { createdAt: 'ASC', kid: 'ASC' } });
    if (row === null) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const generated = await describeKey(privateKey);
      // Replicas starting together may each insert one; all of them then use the oldest.
      await repository
        .createQueryBuilder()
        .insert()
        .values({
          kid: generated.kid,
          algorithm: generated.alg,
          privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        })
        .orIgnore()
        .execute();
      row = await repository.findOneOrFail({ where: {}, order: { createdAt: 'ASC', kid: 'ASC' } });
    }
    return describeKey(createPrivateKey(row.privateKey), row.kid);
  }
}
