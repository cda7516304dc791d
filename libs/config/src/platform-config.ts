import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NodeEnvironment,
  parseEnvironment,
  type Environment,
  type LogLevel,
  type WorkerMode,
} from './environment.js';

export const APP_NAMES = ['agent', 'orchestrator', 'registry'] as const;
export type AppName = (typeof APP_NAMES)[number];

/** Fixed so that docs, manifests, clients and checks agree; `PORT` overrides. */
export const DEFAULT_PORTS: Readonly<Record<AppName, number>> = {
  agent: 8000,
  orchestrator: 8001,
  registry: 8002,
};

/** The key a development install gets when `BOOTSTRAP_API_KEY` is unset (never in production). */
export const DEVELOPMENT_API_KEY = 'dev-local-key';

export interface AppConfig {
  readonly name: AppName;
  readonly environment: NodeEnvironment;
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly instanceId: string;
  readonly version: string;
  readonly logLevel: LogLevel;
  readonly bodyLimitBytes: number;
  readonly shutdownDelayMs: number;
  readonly shutdownTimeoutMs: number;
  /** `all`: API and queue workers; `http`: API only; `worker`: queue workers (and health, metrics) only. */
  readonly workerMode: WorkerMode;
}

export interface DatabaseConfig {
  readonly url?: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly name: string;
  readonly ssl: boolean;
  readonly poolSize: number;
  /** Hot statements run as named prepared statements. */
  readonly preparedStatements: boolean;
  readonly migrationsRun: boolean;
}

export interface RedisConfig {
  readonly url?: string;
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  readonly db: number;
  readonly keyPrefix: string;
}

export interface SecurityConfig {
  readonly bootstrapApiKey: string;
  readonly bootstrapApiKeyIsDevelopmentDefault: boolean;
  readonly bootstrapTenant: string;
}

export interface A2aConfig {
  /** Base URL clients reach this app at (cards advertise it); derived from the request when unset. */
  readonly publicUrl?: string;
  /** Agent modules the agent app serves, by name. */
  readonly agents: readonly string[];
  /** Most parts one message may carry. */
  readonly maxParts: number;
  readonly cardMaxAgeSeconds: number;
  readonly push: PushConfig;
  readonly retention: RetentionConfig;
  /** PKCS #8 PEM; cards are signed only when it is set. */
  readonly signingKey?: string;
  readonly signingKeyId?: string;
}

export interface PushConfig {
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly allowPrivateUrls: boolean;
  readonly allowedHosts: readonly string[];
  /** How long a delivery that failed its last attempt is kept. */
  readonly failedRetentionSeconds: number;
}

/** How long the A2A host keeps what finished tasks leave behind. */
export interface RetentionConfig {
  readonly taskEventsSeconds: number;
  /** 0: finished tasks are kept. */
  readonly tasksSeconds: number;
  readonly intervalSeconds: number;
}

export interface RegistryConfig {
  /** Where the registry is, for apps that register or discover agents; unset: no registry. */
  readonly url?: string;
  /** Key apps use at the registry (defaults to the bootstrap key). */
  readonly apiKey: string;
  readonly heartbeatTtlSeconds: number;
  readonly heartbeatIntervalSeconds: number;
  readonly removeAfterSeconds: number;
  readonly probeIntervalSeconds: number;
  readonly cacheTtlSeconds: number;
  /** Whether card URLs may point at loopback, private or link-local addresses. */
  readonly allowPrivateUrls: boolean;
  readonly maxCardBytes: number;
}

export interface ThrottleConfig {
  readonly ttlMs: number;
  readonly defaultLimit: number;
  readonly messageLimit: number;
}

/** Every namespace of the validated configuration; read it with `ConfigService<PlatformConfig, true>`. */
/** The orchestrator's optional LLM planner (an OpenAI-compatible chat completions API). */
export interface PlannerConfig {
  readonly llmUrl?: string;
  readonly llmApiKey?: string;
  readonly llmModel: string;
  readonly llmTimeoutMs: number;
}

export interface PlatformConfig {
  readonly app: AppConfig;
  readonly database: DatabaseConfig;
  readonly redis: RedisConfig;
  readonly security: SecurityConfig;
  readonly throttle: ThrottleConfig;
  readonly a2a: A2aConfig;
  readonly registry: RegistryConfig;
  readonly planner: PlannerConfig;
}

/** Validates the raw environment once and splits it into typed namespaces. */
export function loadPlatformConfig(
  app: AppName,
  raw: Readonly<Record<string, string | undefined>> = process.env,
): PlatformConfig {
  return toPlatformConfig(app, parseEnvironment(raw), raw.APP_VERSION);
}

function toPlatformConfig(app: AppName, env: Environment, version?: string): PlatformConfig {
  return {
    app: {
      name: app,
      environment: env.NODE_ENV,
      production: env.NODE_ENV === NodeEnvironment.Production,
      host: env.HOST,
      port: env.PORT ?? DEFAULT_PORTS[app],
      instanceId: env.INSTANCE_ID ?? env.A2A_AGENT_ID ?? `${hostname()}-${process.pid}`,
      version: version ?? packageVersion(),
      logLevel: env.LOG_LEVEL,
      bodyLimitBytes: env.HTTP_BODY_LIMIT_BYTES,
      shutdownDelayMs: env.SHUTDOWN_DELAY_MS,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      workerMode: env.WORKER_MODE,
    },
    database: {
      url: env.DATABASE_URL,
      host: env.DATABASE_HOST,
      port: env.DATABASE_PORT,
      user: env.DATABASE_USER,
      password: env.DATABASE_PASSWORD,
      name: env.DATABASE_NAME,
      ssl: env.DATABASE_SSL,
      poolSize: env.DATABASE_POOL_SIZE,
      preparedStatements: env.DATABASE_PREPARED_STATEMENTS,
      migrationsRun: env.DATABASE_MIGRATIONS_RUN,
    },
    redis: {
      url: env.REDIS_URL,
      host: env.REDIS_HOST,
      port: env.REDIS_PORT,
      password: env.REDIS_PASSWORD,
      db: env.REDIS_DB,
      keyPrefix: env.REDIS_KEY_PREFIX,
    },
    security: {
      bootstrapApiKey: env.BOOTSTRAP_API_KEY ?? DEVELOPMENT_API_KEY,
      bootstrapApiKeyIsDevelopmentDefault: env.BOOTSTRAP_API_KEY === undefined,
      bootstrapTenant: env.BOOTSTRAP_TENANT,
    },
    throttle: {
      ttlMs: env.THROTTLE_TTL_SECONDS * 1000,
      defaultLimit: env.THROTTLE_DEFAULT_LIMIT,
      messageLimit: env.THROTTLE_MESSAGE_LIMIT,
    },
    a2a: {
      publicUrl: env.A2A_PUBLIC_URL?.replace(/\/+$/, ''),
      agents: [...new Set(env.AGENTS.split(',').map((name) => name.trim()))],
      maxParts: env.A2A_MAX_PARTS,
      cardMaxAgeSeconds: env.A2A_CARD_MAX_AGE_SECONDS,
      push: {
        timeoutMs: env.PUSH_TIMEOUT_MS,
        attempts: env.PUSH_ATTEMPTS,
        backoffMs: env.PUSH_BACKOFF_MS,
        allowPrivateUrls: env.PUSH_ALLOW_PRIVATE_URLS,
        allowedHosts: (env.PUSH_ALLOWED_HOSTS ?? '')
          .split(',')
          .map((host) => host.trim().toLowerCase())
          .filter((host) => host !== ''),
        failedRetentionSeconds: env.PUSH_FAILED_RETENTION_SECONDS,
      },
      retention: {
        taskEventsSeconds: env.A2A_TASK_EVENTS_RETENTION_SECONDS,
        tasksSeconds: env.A2A_TASKS_RETENTION_SECONDS,
        intervalSeconds: env.A2A_RETENTION_INTERVAL_SECONDS,
      },
      signingKey: env.A2A_SIGNING_KEY,
      signingKeyId: env.A2A_SIGNING_KEY_ID,
    },
    registry: {
      url: env.REGISTRY_URL?.replace(/\/+$/, ''),
      apiKey: env.REGISTRY_API_KEY ?? env.BOOTSTRAP_API_KEY ?? DEVELOPMENT_API_KEY,
      heartbeatTtlSeconds: env.REGISTRY_HEARTBEAT_TTL_SECONDS,
      heartbeatIntervalSeconds: env.REGISTRY_HEARTBEAT_INTERVAL_SECONDS,
      removeAfterSeconds: env.REGISTRY_REMOVE_AFTER_SECONDS,
      probeIntervalSeconds: env.REGISTRY_PROBE_INTERVAL_SECONDS,
      cacheTtlSeconds: env.REGISTRY_CACHE_TTL_SECONDS,
      // Local development runs agents on loopback; production refuses it unless told.
      allowPrivateUrls:
        env.REGISTRY_ALLOW_PRIVATE_URLS ?? env.NODE_ENV !== NodeEnvironment.Production,
      maxCardBytes: env.REGISTRY_MAX_CARD_BYTES,
    },
    planner: {
      llmUrl: env.PLANNER_LLM_URL?.replace(/\/+$/, ''),
      llmApiKey: env.PLANNER_LLM_API_KEY,
      llmModel: env.PLANNER_LLM_MODEL,
      llmTimeoutMs: env.PLANNER_LLM_TIMEOUT_MS,
    },
  };
}

let cachedVersion: string | undefined;

/** The version of the nearest package.json above this file (source and built output alike). */
function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        version?: string;
      };
      cachedVersion = pkg.version ?? '0.0.0';
      return cachedVersion;
    } catch {
      const parent = dirname(dir);
      if (parent === dir) return (cachedVersion = '0.0.0');
      dir = parent;
    }
  }
}
