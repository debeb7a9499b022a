import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { S3Settings } from './storage/s3-store.js';

/** A number of minutes, at most a week. */
const minutes = () =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60);

/**
 * The whole configuration is one pure function of the environment, so every problem is reported
 * at once at boot instead of one per restart.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_BASE_URL: z.string().url().optional(),
  // Default: `.data` at the repository root, whichever package directory the process starts in.
  CLIPWIRE_DATA_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../../../.data', import.meta.url))),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  CLIPWIRE_ROLE: z.enum(['all', 'api', 'worker', 'migrate']).default('all'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  KLING_BASE_URL: z.string().url().optional(),
  KLING_API_KEY: z.string().min(1).optional(),
  KLING_ACCESS_KEY: z.string().min(1).optional(),
  KLING_SECRET_KEY: z.string().min(1).optional(),
  KIE_API_KEY: z.string().min(1).optional(),
  KIE_BASE_URL: z.string().url().optional(),
  KIE_UPLOAD_BASE_URL: z.string().url().optional(),
  KIE_WEBHOOK_HMAC_KEY: z.string().min(1).optional(),
  DIGITAL_HUMAN_API_KEY: z.string().min(1).optional(),
  DIGITAL_HUMAN_BASE_URL: z.string().url().optional(),
  MEDIA_URL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  KLING_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be a whsec_… secret')
    .optional(),
  KLING_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(10),
  KIE_CREATES_PER_10S: z.coerce.number().int().min(1).max(10_000).default(20),
  POLL_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  TASK_DEADLINE_MINUTES: minutes().default(120),
  KLING_DEADLINE_MINUTES: minutes().optional(),
  KIE_DEADLINE_MINUTES: minutes().optional(),
  DIGITAL_HUMAN_DEADLINE_MINUTES: minutes().optional(),
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(30_000),
  API_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(50),
  API_RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(200),
  WORKER_ID: z.string().min(1).max(100).optional(),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  JOB_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(120_000),
  WEBHOOK_ALLOW_ORIGINS: z
    .string()
    .regex(
      /^(https?:\/\/[^\s,/]+)(,https?:\/\/[^\s,/]+)*$/,
      'must be a comma-separated list of origins such as http://10.0.0.5:8080',
    )
    .optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
  S3_PUBLIC_ENDPOINT: z.string().url().optional(),
  INPUT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(7),
  SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(4010),
  SIMULATOR_TIMING_MS: z
    .string()
    .regex(/^\d+,\d+$/, 'must be "<processingAfterMs>,<succeedAfterMs>"')
    .default('2000,6000'),
  SIMULATOR_OUTPUT_TTL_S: z.coerce.number().int().min(1).optional(),
  ARCHIVE_OUTPUTS: z.enum(['true', 'false'], { message: 'must be true or false' }).default('true'),
  ARCHIVE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(2 * 1024 ** 3),
  OUTPUT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).optional(),
});

/** Every environment variable Clipwire reads (docker-compose and the README are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

/** Rules across variables, checked on the raw values so they are reported with the per-variable ones. */
function crossChecks(env: Record<string, string>): string[] {
  const problems: string[] = [];
  if ((env.CLIPWIRE_ROLE === 'api' || env.CLIPWIRE_ROLE === 'worker') && !('DATABASE_URL' in env)) {
    problems.push(
      'CLIPWIRE_ROLE: separate api and worker processes need a shared DATABASE_URL (embedded PGlite is one process)',
    );
  }
  if (env.CLIPWIRE_ROLE === 'api' && !('REDIS_URL' in env)) {
    problems.push('REDIS_URL: an api-only process needs Redis to hear about changes made by the workers');
  }
  if ('KLING_ACCESS_KEY' in env !== 'KLING_SECRET_KEY' in env) {
    problems.push('KLING_ACCESS_KEY: KLING_ACCESS_KEY and KLING_SECRET_KEY must be set together');
  }
  if ('KLING_API_KEY' in env && 'KLING_ACCESS_KEY' in env) {
    problems.push('KLING_API_KEY: set either KLING_API_KEY or KLING_ACCESS_KEY/KLING_SECRET_KEY, not both');
  }
  if ('DIGITAL_HUMAN_API_KEY' in env && !('DIGITAL_HUMAN_BASE_URL' in env)) {
    problems.push('DIGITAL_HUMAN_BASE_URL: is required with DIGITAL_HUMAN_API_KEY (every reseller has its own)');
  }
  const s3Only = [
    'S3_ENDPOINT',
    'S3_ACCESS_KEY_ID',
    'S3_SECRET_ACCESS_KEY',
    'S3_FORCE_PATH_STYLE',
    'S3_PUBLIC_ENDPOINT',
  ];
  const orphan = s3Only.find((name) => name in env);
  if (orphan && !('S3_BUCKET' in env))
    problems.push(`S3_BUCKET: is required with ${orphan} (media go to S3 only with a bucket)`);
  if ('S3_ACCESS_KEY_ID' in env !== 'S3_SECRET_ACCESS_KEY' in env) {
    problems.push('S3_ACCESS_KEY_ID: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  }
  return problems;
}

export type KlingAuth = { apiKey: string } | { accessKey: string; secretKey: string };

/** A provider is LIVE with credentials, otherwise SANDBOX: served by the built-in simulator. */
export type ProviderSettings<Auth> =
  | { mode: 'LIVE'; baseUrl: string; auth: Auth }
  | { mode: 'SANDBOX'; baseUrl: string | undefined; auth: Auth };

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  /** The origin providers call back and fetch media from; defaults to loopback on PORT. */
  publicBaseUrl: string | undefined;
  dataDir: string;
  database: { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };
  redisUrl: string | undefined;
  /** all: API and workers; api: HTTP/WebSocket only; worker: jobs and polling; migrate: apply migrations and exit. */
  role: 'all' | 'api' | 'worker' | 'migrate';
  logLevel: string;
  kling: ProviderSettings<KlingAuth>;
  kie: ProviderSettings<{ apiKey: string }> & { uploadBaseUrl: string | undefined; webhookHmacKey: string | undefined };
  digitalHuman: ProviderSettings<{ apiKey: string }>;
  mediaUrlSecret: string | undefined;
  klingWebhookSecret: string | undefined;
  limits: { klingConcurrency: number; kieCreatesPer10s: number };
  poll: { intervalMs: number; deadlineMs: Record<'KLING' | 'KIE' | 'DIGITAL_HUMAN', number> };
  /** `id`: this process's name in job leases (unique per process; random when unset). */
  worker: { concurrency: number; leaseMs: number; id: string | undefined };
  /** GraphQL operations per API key (HTTP requests and WebSocket subscribes). */
  rateLimit: { perSecond: number; burst: number };
  /** Per provider request: headers, body and overall deadline. */
  providerTimeoutMs: number;
  /** Private origins partners' webhooks may be delivered to (by default only public addresses). */
  webhookAllowOrigins: string[];
  /** `outputTtlSeconds`: how long the sandbox's output links work after their task finished (unset: forever). */
  simulator: { port: number; processingAfterMs: number; succeedAfterMs: number; outputTtlSeconds: number | undefined };
  /**
   * Outputs copied into Clipwire's storage when a task succeeds (`archive`), each at most `maxBytes`,
   * and deleted `retentionDays` after the task finished (unset: kept while the task is).
   */
  outputs: { archive: boolean; maxBytes: number; retentionDays: number | undefined };
  /**
   * Prometheus metrics: on `port` (bound to `host`) when set, else at /metrics on the API's port;
   * with a token, a scrape must send it as a bearer token; without one, only loopback may scrape.
   */
  metrics: { token: string | undefined; port: number | undefined; host: string };
  /**
   * Where media bytes go: files under `dataDir/media`, or an S3 bucket (when S3_BUCKET is set).
   * `presign`: whether and for which endpoint presigned URLs are handed to providers.
   */
  storage: { kind: 'fs' } | ({ kind: 's3' } & S3Settings);
  /** Stored inputs of final tasks are deleted this many days after the task was created. */
  inputRetentionDays: number;
}

export const SANDBOX_KLING_API_KEY = 'sandbox-kling-key';
export const SANDBOX_KIE_API_KEY = 'sandbox-kie-key';
export const SANDBOX_DIGITAL_HUMAN_API_KEY = 'sandbox-dh-key';
const KLING_DEFAULT_BASE_URL = 'https://api-singapore.klingai.com';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as they do in most shells' `VAR= cmd`.
  const env = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`)),
    ...crossChecks(env as Record<string, string>),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const [processingAfterMs, succeedAfterMs] = e.SIMULATOR_TIMING_MS.split(',').map(Number) as [number, number];

  const liveAuth: KlingAuth | undefined = e.KLING_API_KEY
    ? { apiKey: e.KLING_API_KEY }
    : e.KLING_ACCESS_KEY && e.KLING_SECRET_KEY
      ? { accessKey: e.KLING_ACCESS_KEY, secretKey: e.KLING_SECRET_KEY }
      : undefined;

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    dataDir: e.CLIPWIRE_DATA_DIR,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL }
      : { kind: 'pglite', dataDir: e.CLIPWIRE_DATA_DIR },
    redisUrl: e.REDIS_URL,
    role: e.CLIPWIRE_ROLE,
    logLevel: e.LOG_LEVEL,
    kling: liveAuth
      ? { mode: 'LIVE', baseUrl: e.KLING_BASE_URL ?? KLING_DEFAULT_BASE_URL, auth: liveAuth }
      : { mode: 'SANDBOX', baseUrl: e.KLING_BASE_URL, auth: { apiKey: SANDBOX_KLING_API_KEY } },
    kie: {
      ...(e.KIE_API_KEY
        ? { mode: 'LIVE' as const, baseUrl: e.KIE_BASE_URL ?? 'https://api.kie.ai', auth: { apiKey: e.KIE_API_KEY } }
        : { mode: 'SANDBOX' as const, baseUrl: e.KIE_BASE_URL, auth: { apiKey: SANDBOX_KIE_API_KEY } }),
      uploadBaseUrl: e.KIE_UPLOAD_BASE_URL,
      webhookHmacKey: e.KIE_WEBHOOK_HMAC_KEY,
    },
    digitalHuman:
      e.DIGITAL_HUMAN_API_KEY && e.DIGITAL_HUMAN_BASE_URL
        ? { mode: 'LIVE', baseUrl: e.DIGITAL_HUMAN_BASE_URL, auth: { apiKey: e.DIGITAL_HUMAN_API_KEY } }
        : { mode: 'SANDBOX', baseUrl: e.DIGITAL_HUMAN_BASE_URL, auth: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY } },
    mediaUrlSecret: e.MEDIA_URL_SECRET,
    klingWebhookSecret: e.KLING_WEBHOOK_SECRET,
    limits: { klingConcurrency: e.KLING_CONCURRENCY, kieCreatesPer10s: e.KIE_CREATES_PER_10S },
    poll: {
      intervalMs: e.POLL_INTERVAL_MS,
      deadlineMs: {
        KLING: (e.KLING_DEADLINE_MINUTES ?? e.TASK_DEADLINE_MINUTES) * 60_000,
        KIE: (e.KIE_DEADLINE_MINUTES ?? e.TASK_DEADLINE_MINUTES) * 60_000,
        DIGITAL_HUMAN: (e.DIGITAL_HUMAN_DEADLINE_MINUTES ?? e.TASK_DEADLINE_MINUTES) * 60_000,
      },
    },
    worker: { concurrency: e.WORKER_CONCURRENCY, leaseMs: e.JOB_LEASE_MS, id: e.WORKER_ID },
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    rateLimit: { perSecond: e.API_RATE_LIMIT_PER_SECOND, burst: e.API_RATE_LIMIT_BURST },
    webhookAllowOrigins: e.WEBHOOK_ALLOW_ORIGINS?.split(',') ?? [],
    simulator: {
      port: e.SIMULATOR_PORT,
      processingAfterMs,
      succeedAfterMs,
      outputTtlSeconds: e.SIMULATOR_OUTPUT_TTL_S,
    },
    outputs: {
      archive: e.ARCHIVE_OUTPUTS === 'true',
      maxBytes: e.ARCHIVE_MAX_BYTES,
      retentionDays: e.OUTPUT_RETENTION_DAYS,
    },
    metrics: { token: e.METRICS_TOKEN, port: e.METRICS_PORT, host: e.METRICS_HOST },
    storage: e.S3_BUCKET
      ? {
          kind: 's3',
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT,
          region: e.S3_REGION,
          accessKeyId: e.S3_ACCESS_KEY_ID,
          secretAccessKey: e.S3_SECRET_ACCESS_KEY,
          forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true',
          // AWS's own endpoint is public; another is presigned for only when its public form is named.
          presign: e.S3_PUBLIC_ENDPOINT
            ? { endpoint: e.S3_PUBLIC_ENDPOINT }
            : e.S3_ENDPOINT
              ? null
              : { endpoint: undefined },
        }
      : { kind: 'fs' },
    inputRetentionDays: e.INPUT_RETENTION_DAYS,
  };
}

/** No provider has credentials: the whole install runs against the simulator. */
export function isSandbox(config: Config): boolean {
  return config.kling.mode === 'SANDBOX' && config.kie.mode === 'SANDBOX' && config.digitalHuman.mode === 'SANDBOX';
}
