import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { hash } from 'node:crypto';

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

const MAX_LOCAL_ENTRIES = 10_000;

/**
 * Discovery answers cached for a few seconds, in two tiers: Redis, shared by
 * the replicas, and each replica's memory (as the bytes of the answer, sent
 * as they are: no string to encode and no copy of it joined to the headers).
 * Every change to a registration bumps one version number that is part of
 * every key and is published to every replica, so no answer outlives a
 * change; the TTL bounds the rest.
 * While a replica is not subscribed (Redis away, reconnecting) it does not
 * use its memory tier; while Redis is away discovery is answered from
 * PostgreSQL.
 */
@Injectable()
export class DiscoveryCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DiscoveryCache.name);
  private readonly versionKey: string;
  private readonly channel: string;
  private readonly entryPrefix: string;
  private readonly ttlSeconds: number;
  private readonly local = new Map<string, { value: Buffer; expiresAt: number }>();
  /** The current version as published; undefined while not subscribed. */
  private version?: string;
  private subscriber?: Redis;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(ConfigService) config: PlatformConfigService,
  ) {
    const prefix = config.get('redis', { infer: true }).keyPrefix;
    this.versionKey = `${prefix}:registry:version`;
    this.channel = `${prefix}:registry:changes`;
    this.entryPrefix = `${prefix}:registry:discovery:`;
    this.ttlSeconds = config.get('registry', { infer: true }).cacheTtlSeconds;
    if (!('registryCacheLookup' in redis)) {
      redis.defineCommand('registryCacheLookup', { numberOfKeys: 1, lua: LOOKUP_SCRIPT });
    }
  }

  private static hashOf(key: string): string {
    return hash('sha1', key, 'base64url');
  }

  onModuleInit(): void {
    if (this.ttlSeconds === 0) return;
    const subscriber = this.redis.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
    });
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, version: string) => this.adopt(version));
    subscriber.on('ready', () => {
      subscriber
        .subscribe(this.channel)
        .then(() => this.redis.get(this.versionKey))
        .then((version) => this.adopt(version ?? '0'))
        .catch(() => this.forget());
    });
    subscriber.on('close', () => this.forget());
    subscriber.on('error', () => this.forget());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  /**
   * The answer to a question (a string naming it) from this replica's memory,
   * which holds answers of the current version only (emptied when it changes).
   */
  peek(key: string): Buffer | undefined {
    if (this.version === undefined) return undefined;
    const local = this.local.get(key);
    return local !== undefined && local.expiresAt > Date.now() ? local.value : undefined;
  }

  /**
   * The cached answer to a question (a string naming it), or a function that
   * stores the fresh one under the version it was computed for.
   */
  async lookup(
    key: string,
  ): Promise<{ hit: Buffer } | { store: (value: Buffer) => Promise<void> }> {
    if (this.ttlSeconds === 0) return { store: () => Promise.resolve() };
    const remembered = this.peek(key);
    if (remembered !== undefined) return { hit: remembered };
    try {
      const [version, hit] = await (this.redis as RedisWithLookup).registryCacheLookup(
        this.versionKey,
        this.entryPrefix,
        DiscoveryCache.hashOf(key),
      );
      if (hit !== null) {
        const value = Buffer.from(hit, 'utf8');
        this.remember(version, key, value);
        return { hit: value };
      }
      const entry = `${this.entryPrefix}${version}:${DiscoveryCache.hashOf(key)}`;
      return {
        store: async (value: Buffer) => {
          this.remember(version, key, value);
          await this.redis.set(entry, value, 'EX', this.ttlSeconds).catch(() => undefined);
        },
      };
    } catch {
      return { store: () => Promise.resolve() };
    }
  }

  /** Called on every registration change. */
  async invalidate(): Promise<void> {
    this.local.clear();
    try {
      const version = await this.redis.incr(this.versionKey);
      this.adopt(String(version));
      await this.redis.publish(this.channel, String(version));
    } catch (error) {
      this.logger.warn(
        `Discovery cache not invalidated (Redis unavailable): ${(error as Error).message}`,
      );
    }
  }

  private remember(version: string, key: string, value: Buffer): void {
    if (this.version !== version) return;
    if (this.local.size >= MAX_LOCAL_ENTRIES) this.local.clear();
    this.local.set(key, { value, expiresAt: Date.now() + this.ttlSeconds * 1000 });
  }

  private adopt(version: string): void {
    if (this.version === version) return;
    this.version = version;
    this.local.clear();
  }

  private forget(): void {
    this.version = undefined;
    this.local.clear();
  }
}
