import type { PlatformConfigService } from '@app/config';
import { ApiKeyEntity, ApiKeyRole, DatabaseLifecycle, TenantEntity } from '@app/persistence';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { hash, randomBytes } from 'node:crypto';
import { DataSource, IsNull } from 'typeorm';
import type { AuthContext } from './auth-context.js';

const CACHE_TTL_MS = 30_000;
const CACHE_MAX_ENTRIES = 10_000;

type CacheEntry = { readonly auth: AuthContext | null; readonly expiresAt: number };

export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** A new key: 32 random bytes, URL-safe, with a prefix that makes leaked keys easy to scan for. */
export function generateApiKey(): string {
  return `a2a_${randomBytes(32).toString('base64url')}`;
}

export interface NewApiKey {
  readonly tenantId: string;
  readonly name: string;
  readonly role: ApiKeyRole;
  /** A chosen key (the bootstrap key); a random one is generated otherwise. */
  readonly key?: string;
}

/** Inserts a key (and its tenant when new) in one transaction; returns the only copy of the key. */
export async function createApiKey(
  dataSource: DataSource,
  input: NewApiKey,
): Promise<{ id: string; key: string }> {
  const key = input.key ?? generateApiKey();
  return dataSource.transaction(async (manager) => {
    await manager
      .createQueryBuilder()
      .insert()
      .into(TenantEntity)
      .values({ id: input.tenantId, name: input.tenantId })
      .orIgnore()
      .execute();
    const inserted = await manager
      .createQueryBuilder()
      .insert()
      .into(ApiKeyEntity)
      .values({
        tenantId: input.tenantId,
        name: input.name,
        role: input.role,
        keyHash: hashApiKey(key),
      })
      .returning(['id'])
      .execute();
    return { id: (inserted.raw as Array<{ id: string }>)[0].id, key };
  });
}

/**
 * Resolves API keys to tenants. Keys are looked up by their SHA-256 and the
 * answer (also a miss) is cached briefly, so the hot path rarely touches
 * PostgreSQL; a revoked key stops working within {@link CACHE_TTL_MS}.
 */
@Injectable()
export class ApiKeyService implements OnModuleInit {
  private readonly logger = new Logger(ApiKeyService.name);
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly database: DatabaseLifecycle,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
  ) {}

  onModuleInit(): void {
    this.database.onReady('bootstrap API key', () => this.ensureBootstrapKey());
  }

  /**
   * What the cache knows of a key: its context, null for a key known not to
   * be valid, undefined when it does not know (then {@link authenticate}).
   * Synchronous, so that the hot path does not wait a turn for a known key.
   */
  cached(key: string): AuthContext | null | undefined {
    const cached = this.cache.get(hashApiKey(key));
    return cached !== undefined && cached.expiresAt > Date.now() ? cached.auth : undefined;
  }

  async authenticate(key: string): Promise<AuthContext | undefined> {
    const known = this.cached(key);
    if (known !== undefined) return known ?? undefined;
    const keyHash = hashApiKey(key);
    const now = Date.now();

    const row = await this.dataSource.getRepository(ApiKeyEntity).findOne({
      where: { keyHash, revokedAt: IsNull() },
      select: { id: true, tenantId: true, role: true },
    });
    const auth: AuthContext | null = row
      ? { tenantId: row.tenantId, apiKeyId: row.id, role: row.role }
      : null;
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(keyHash, { auth, expiresAt: now + CACHE_TTL_MS });
    return auth ?? undefined;
  }

  /** Creates a key for a tenant (creating the tenant if needed) and returns the only copy of it. */
  createKey(input: NewApiKey): Promise<{ id: string; key: string }> {
    return createApiKey(this.dataSource, input);
  }

  /** Idempotent: every replica runs it at start-up, the first one creates the tenant and key. */
  private async ensureBootstrapKey(): Promise<void> {
    const security = this.config.get('security', { infer: true });
    const keyHash = hashApiKey(security.bootstrapApiKey);
    const existing = await this.dataSource
      .getRepository(ApiKeyEntity)
      .exists({ where: { keyHash } });
    if (!existing) {
      await createApiKey(this.dataSource, {
        tenantId: security.bootstrapTenant,
        name: 'bootstrap',
        role: ApiKeyRole.Admin,
        key: security.bootstrapApiKey,
      }).catch((error: { code?: string }) => {
        // Another replica inserted the same key first.
        if (error.code !== '23505') throw error;
      });
    }
    if (security.bootstrapApiKeyIsDevelopmentDefault) {
      this.logger.warn(
        `Development API key for tenant "${security.bootstrapTenant}": ${security.bootstrapApiKey} (set BOOTSTRAP_API_KEY to replace it)`,
      );
    }
  }
}
