import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsEnum,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
  type ValidationError,
} from 'class-validator';

export enum NodeEnvironment {
  Development = 'development',
  Production = 'production',
  Test = 'test',
}

/** What one process of an app does: serve its API, work its queues, or both. */
export enum WorkerMode {
  All = 'all',
  Http = 'http',
  Worker = 'worker',
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const normalised = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(normalised)) return true;
  if (['false', '0', 'no', 'off', ''].includes(normalised)) return false;
  return value;
};

const toInteger = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string' || value.trim() === '') return value;
  return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
};

/**
 * Every environment variable the platform reads, with its local default.
 * Values arrive as strings; the transforms turn them into typed values and the
 * validators reject anything else, naming the variable.
 */
export class Environment {
  @IsEnum(NodeEnvironment)
  NODE_ENV: NodeEnvironment = NodeEnvironment.Development;

  @IsOptional()
  @Transform(toInteger)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT?: number;

  @IsString()
  HOST = '0.0.0.0';

  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,128}$/, {
    message: 'INSTANCE_ID may hold letters, digits, ".", "_" and "-" only',
  })
  INSTANCE_ID?: string;

  /** The agent instance's identity where the orchestrator sets it (in Kubernetes, the pod name); INSTANCE_ID wins when both are set. */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,128}$/, {
    message: 'A2A_AGENT_ID may hold letters, digits, ".", "_" and "-" only',
  })
  A2A_AGENT_ID?: string;

  @IsEnum(WorkerMode, { message: 'WORKER_MODE must be all, http or worker' })
  WORKER_MODE: WorkerMode = WorkerMode.All;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevel = 'info';

  @Transform(toInteger)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  HTTP_BODY_LIMIT_BYTES = 1024 * 1024;

  @Transform(toInteger)
  @IsInt()
  @Min(0)
  @Max(120_000)
  SHUTDOWN_DELAY_MS = 0;

  @Transform(toInteger)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  SHUTDOWN_TIMEOUT_MS = 30_000;

  @IsOptional()
  @IsUrl({ protocols: ['postgres', 'postgresql'], require_tld: false })
  DATABASE_URL?: string;

  @IsString()
  DATABASE_HOST = '127.0.0.1';

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(65535)
  DATABASE_PORT = 5432;

  @IsString()
  DATABASE_USER = 'postgres';

  @IsString()
  DATABASE_PASSWORD = 'postgres';

  @IsString()
  @Matches(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
    message: 'DATABASE_NAME must be a plain PostgreSQL identifier',
  })
  DATABASE_NAME = 'a2a';

  @Transform(toBoolean)
  @IsBoolean()
  DATABASE_SSL = false;

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(200)
  DATABASE_POOL_SIZE = 10;

  /** Hot statements as named prepared statements; turn off behind PgBouncer in transaction mode (< 1.21). */
  @Transform(toBoolean)
  @IsBoolean()
  DATABASE_PREPARED_STATEMENTS = true;

  @Transform(toBoolean)
  @IsBoolean()
  DATABASE_MIGRATIONS_RUN = false;

  @IsOptional()
  @IsUrl({ protocols: ['redis', 'rediss'], require_tld: false })
  REDIS_URL?: string;

  @IsString()
  REDIS_HOST = '127.0.0.1';

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(65535)
  REDIS_PORT = 6379;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  @Transform(toInteger)
  @IsInt()
  @Min(0)
  @Max(15)
  REDIS_DB = 0;

  @IsString()
  @Matches(/^[A-Za-z0-9:_-]{1,64}$/, {
    message: 'REDIS_KEY_PREFIX may hold letters, digits, ":", "_" and "-" only',
  })
  REDIS_KEY_PREFIX = 'a2a';

  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'BOOTSTRAP_API_KEY must be at least 16 characters long' })
  BOOTSTRAP_API_KEY?: string;

  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'BOOTSTRAP_TENANT must be a lower-case slug' })
  BOOTSTRAP_TENANT = 'default';

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(86_400)
  THROTTLE_TTL_SECONDS = 60;

  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  A2A_PUBLIC_URL?: string;

  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  REGISTRY_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(8)
  REGISTRY_API_KEY?: string;

  @Transform(toInteger)
  @IsInt()
  @Min(2)
  @Max(3600)
  REGISTRY_HEARTBEAT_TTL_SECONDS = 30;

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(3600)
  REGISTRY_HEARTBEAT_INTERVAL_SECONDS = 10;

  @Transform(toInteger)
  @IsInt()
  @Min(10)
  @Max(7 * 86_400)
  REGISTRY_REMOVE_AFTER_SECONDS = 300;

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(3600)
  REGISTRY_PROBE_INTERVAL_SECONDS = 15;

  @Transform(toInteger)
  @IsInt()
  @Min(0)
  @Max(300)
  REGISTRY_CACHE_TTL_SECONDS = 5;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  REGISTRY_ALLOW_PRIVATE_URLS?: boolean;

  @Transform(toInteger)
  @IsInt()
  @Min(1024)
  @Max(4 * 1024 * 1024)
  REGISTRY_MAX_CARD_BYTES = 256 * 1024;

  /** OpenAI-compatible API base (e.g. https://api.openai.com/v1) for the orchestrator's LLM planner; unset: rules only. */
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_tld: false })
  PLANNER_LLM_URL?: string;

  @IsOptional()
  @IsString()
  PLANNER_LLM_API_KEY?: string;

  /**
   * The platform's signing key (PKCS #8 PEM; EC P-256, Ed25519 or RSA): signs
   * push notification JWTs and Agent Cards. Unset: push notifications are
   * signed with a key generated once and kept in PostgreSQL; cards are not signed.
   */
  @IsOptional()
  @Matches(/-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----/, {
    message: 'A2A_SIGNING_KEY must be a PKCS #8 PEM private key',
  })
  A2A_SIGNING_KEY?: string;

  @IsOptional()
  @Matches(/^[\w.-]{1,64}$/, { message: 'A2A_SIGNING_KEY_ID: letters, digits, ".", "_", "-"' })
  A2A_SIGNING_KEY_ID?: string;

  @IsString()
  @MinLength(1)
  PLANNER_LLM_MODEL = 'gpt-4o-mini';

  @Transform(toInteger)
  @IsInt()
  @Min(1000)
  @Max(300_000)
  PLANNER_LLM_TIMEOUT_MS = 30_000;

  @IsString()
  @Matches(/^\s*[a-z][a-z0-9-]*(\s*,\s*[a-z][a-z0-9-]*)*\s*$/, {
    message: 'AGENTS must be a comma-separated list of agent names (e.g. "math,language")',
  })
  AGENTS = 'echo,math,language,slow';

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(1000)
  A2A_MAX_PARTS = 64;

  @Transform(toInteger)
  @IsInt()
  @Min(0)
  @Max(86_400)
  A2A_CARD_MAX_AGE_SECONDS = 300;

  /** How long one push notification delivery may take (the A2A guidance: 10-30 s). */
  @Transform(toInteger)
  @IsInt()
  @Min(1000)
  @Max(30_000)
  PUSH_TIMEOUT_MS = 10_000;

  /** Delivery attempts per notification before it is kept as failed. */
  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(25)
  PUSH_ATTEMPTS = 10;

  /** First retry delay; each later one doubles, with up to 50 % jitter. */
  @Transform(toInteger)
  @IsInt()
  @Min(10)
  @Max(600_000)
  PUSH_BACKOFF_MS = 2_000;

  /** Allow webhooks at loopback, private and link-local addresses (never in production). */
  @Transform(toBoolean)
  @IsBoolean()
  PUSH_ALLOW_PRIVATE_URLS = false;

  /** Hosts ("name" or "name:port") that may receive webhooks although their address is private. */
  @IsOptional()
  @Matches(/^\s*[\w.\-[\]:]+(\s*,\s*[\w.\-[\]:]+)*\s*$/, {
    message: 'PUSH_ALLOWED_HOSTS must be a comma-separated list of host or host:port',
  })
  PUSH_ALLOWED_HOSTS?: string;

  /** Failed push deliveries stay visible (and re-drivable) this long after their last attempt. */
  @Transform(toInteger)
  @IsInt()
  @Min(1)
  PUSH_FAILED_RETENTION_SECONDS = 7 * 86_400;

  /**
   * The event log of a task that reached a terminal state is kept this long
   * after it finished (its last write): streams and replays need it no more,
   * and the task itself, with its history, stays.
   */
  @Transform(toInteger)
  @IsInt()
  @Min(1)
  A2A_TASK_EVENTS_RETENTION_SECONDS = 86_400;

  /** Tasks in a terminal state are deleted (with their push configs) this long after they finished; 0 keeps them. */
  @Transform(toInteger)
  @IsInt()
  @Min(0)
  A2A_TASKS_RETENTION_SECONDS = 0;

  /** How often the A2A host applies the retention settings above. */
  @Transform(toInteger)
  @IsInt()
  @Min(1)
  @Max(86_400)
  A2A_RETENTION_INTERVAL_SECONDS = 3_600;

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  THROTTLE_DEFAULT_LIMIT = 1000;

  @Transform(toInteger)
  @IsInt()
  @Min(1)
  THROTTLE_MESSAGE_LIMIT = 100;
}

export class EnvironmentError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid environment variables:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvironmentError';
  }
}

const describe = (error: ValidationError, input: Record<string, string>): string => {
  const raw = input[error.property];
  const shown = raw === undefined ? 'nothing' : JSON.stringify(raw);
  const reasons = Object.values(error.constraints ?? {}).join('; ');
  return `${error.property}: ${reasons} (got ${shown})`;
};

/** Every variable {@link parseEnvironment} reads (APP_VERSION is read by {@link loadPlatformConfig}). */
export const ENVIRONMENT_VARIABLES: readonly string[] = [
  ...Object.keys(new Environment()),
  'PORT',
  'INSTANCE_ID',
  'A2A_AGENT_ID',
  'DATABASE_URL',
  'REDIS_URL',
  'REDIS_PASSWORD',
  'BOOTSTRAP_API_KEY',
  'A2A_PUBLIC_URL',
  'REGISTRY_URL',
  'REGISTRY_API_KEY',
  'REGISTRY_ALLOW_PRIVATE_URLS',
  'PLANNER_LLM_URL',
  'PLANNER_LLM_API_KEY',
  'PUSH_ALLOWED_HOSTS',
  'A2A_SIGNING_KEY',
  'A2A_SIGNING_KEY_ID',
];

/** Parses and validates the raw environment; throws {@link EnvironmentError} naming every bad variable. */
export function parseEnvironment(raw: Readonly<Record<string, string | undefined>>): Environment {
  const input: Record<string, string> = {};
  for (const key of ENVIRONMENT_VARIABLES) {
    const value = raw[key];
    if (value !== undefined) input[key] = value;
  }
  const env = plainToInstance(Environment, input, { exposeDefaultValues: true });
  const errors = validateSync(env);
  const problems = errors.map((error) => describe(error, input));
  if (env.NODE_ENV === NodeEnvironment.Production && env.BOOTSTRAP_API_KEY === undefined) {
    problems.push('BOOTSTRAP_API_KEY: must be set when NODE_ENV=production (got undefined)');
  }
  if (problems.length > 0) throw new EnvironmentError(problems);
  return env;
}
