import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseCostEstimates } from './tasks/cost.js';

/** A number of minutes, at most a week. */
const minutes = () =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60);

/**
 * The environment Clipwire reads, as one schema (config.ts turns it into a Config).
 * The whole configuration is one pure function of the environment, so every problem is reported
 * at once at boot instead of one per restart.
 */
export const envSchema = z.object({
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
  ROUTE_WAIT_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  ROUTE_SUBMIT_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
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
  WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  COST_ESTIMATES: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      const parsed = parseCostEstimates(value);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    }),
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
export function crossChecks(env: Record<string, string>): string[] {
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
