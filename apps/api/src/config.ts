import { CONFIG_VARIABLES, crossChecks, envSchema } from './config-env.js';
import type { S3Settings } from './storage/s3-store.js';
import { type CostEstimates, parseCostEstimates } from './tasks/cost.js';

export { CONFIG_VARIABLES };

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
  /** Routing: how long a task waits for a busy provider, and the creates it is given, while others follow. */
  route: { waitMs: number; submitAttempts: number };
  poll: { intervalMs: number; deadlineMs: Record<'KLING' | 'KIE' | 'DIGITAL_HUMAN', number> };
  /** `id`: this process's name in job leases (unique per process; random when unset). */
  worker: { concurrency: number; leaseMs: number; id: string | undefined };
  /** GraphQL operations per API key (HTTP requests and WebSocket subscribes). */
  rateLimit: { perSecond: number; burst: number };
  /** Per provider request: headers, body and overall deadline. */
  providerTimeoutMs: number;
  /** Private origins partners' webhooks may be delivered to (by default only public addresses). */
  webhookAllowOrigins: string[];
  /** Webhook deliveries and their attempts are kept this many days (then deleted by a periodic job). */
  webhookDeliveryRetentionDays: number;
  /** Cost units per task by provider and kind, where the provider reports none (and reserved at create). */
  costEstimates: CostEstimates;
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
    route: { waitMs: e.ROUTE_WAIT_MS, submitAttempts: e.ROUTE_SUBMIT_ATTEMPTS },
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
    webhookDeliveryRetentionDays: e.WEBHOOK_DELIVERY_RETENTION_DAYS,
    costEstimates: parseCostEstimates(e.COST_ESTIMATES) as CostEstimates,
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
