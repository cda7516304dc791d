import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';

/** Returns {version, cached value or false} in one round trip. */
const LOOKUP_SCRIPT = `
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. version .. ':' .. ARGV[2])}
`;

type RedisWithLookup = Redis & {
  registryCacheLookup(
    versionKey: string,
    prefix: string,
    hash: string,
  ): Promise<[string, string | null]>;
};

/**
 * Discovery answers cached in Redis for a few seconds and shared by the
 * replicas. Every change to a registration bumps one version number that is
 * part of every key, so no answer outlives a change; the TTL bounds the rest.
 * When Redis is away discovery is answered from PostgreSQL.
 */
@Injectable()
export class DiscoveryCache {
  private readonly logger = new Logger(DiscoveryCache.name);
  private readonly versionKey: string;
  private readonly entryPrefix: string;
  private readonly ttlSeconds: number;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(ConfigService) config: PlatformConfigService,
  ) {
    const prefix = config.get('redis', { infer: true }).keyPrefix;
    this.versionKey = `${prefix}:registry:version`;
    this.entryPrefix = `${prefix}:registry:discovery:`;
    this.ttlSeconds = config.get('registry', { infer: true }).cacheTtlSeconds;
    if (!('registryCacheLookup' in redis)) {
      redis.defineCommand('registryCacheLookup', { numberOfKeys: 1, lua: LOOKUP_SCRIPT });
    }
  }

  static keyOf(parts: unknown): string {
    return createHash('sha1').update(JSON.stringify(parts)).digest('base64url');
  }

  /** The cached answer, or a function that stores the fresh one under the version it was computed for. */
  async lookup(
    hash: string,
  ): Promise<{ hit: string } | { store: (value: string) => Promise<void> }> {
    if (this.ttlSeconds === 0) return { store: () => Promise.resolve() };
    try {
      const [version, hit] = await (this.redis as RedisWithLookup).registryCacheLookup(
        this.versionKey,
        this.entryPrefix,
        hash,
      );
      if (hit !== null) return { hit };
      const key = `${this.entryPrefix}${version}:${hash}`;
      return {
        store: async (value: string) => {
          await this.redis.set(key, value, 'EX', this.ttlSeconds).catch(() => undefined);
        },
      };
    } catch {
      return { store: () => Promise.resolve() };
    }
  }

  /** Called on every registration change. */
  async invalidate(): Promise<void> {
    await this.redis.incr(this.versionKey).catch((error: unknown) => {
      this.logger.warn(
        `Discovery cache not invalidated (Redis unavailable): ${(error as Error).message}`,
      );
    });
  }
}
