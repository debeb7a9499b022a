import { ProviderError } from '@clipwire/providers';
import type { Provider } from '@clipwire/schema';
import type { JobRow } from '@clipwire/schema/tables';
import type { JobOutcome } from '../jobs/queue.js';
import { type CostEstimates, DEFAULT_COST_ESTIMATES } from './cost.js';

export interface EngineSettings {
  /** Send attempts of a create before the task ends FAILED. */
  submitAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Concurrent tasks per provider (Kling counts a slot from submission until the task is final). */
  concurrency: Partial<Record<Provider, number>>;
  /** Creates per rolling window (KIE: 20 per 10 s). */
  rate: Partial<Record<Provider, { creates: number; windowMs: number }>>;
  /** First poll of a provider without callbacks, after submission. */
  noCallbackPollMs: number;
  /** First poll of a provider with callbacks, in case they are lost. */
  callbackGraceMs: number;
  maxPollDelayMs: number;
  /** A task not final this long after creation ends FAILED. */
  deadlineMs: Record<Provider, number>;
  /**
   * How long after an unconfirmed create (timeout, crash) a lookup that finds nothing is believed:
   * past it the earlier request can no longer reach the provider, and the create may be resent.
   */
  unconfirmedGraceMs: number;
  /** How long an account-level refusal (quota, arrears, permission) stops new tasks for that provider. */
  accountRefusalMs: number;
  /** ROUTE_WAIT_MS: how long a task waits for a free slot of a busy provider before the next on its route. */
  routeWaitMs: number;
  /** ROUTE_SUBMIT_ATTEMPTS: creates a provider is given (retryable failures) while its route goes on. */
  routeSubmitAttempts: number;
  /** Cost units per task where the provider reports none; reserved against budgets at create (COST_ESTIMATES). */
  costEstimates: CostEstimates;
}

export const DEFAULT_ENGINE: EngineSettings = {
  submitAttempts: 8,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
  concurrency: { KLING: 10 },
  rate: { KIE: { creates: 20, windowMs: 10_000 } },
  noCallbackPollMs: 3000,
  callbackGraceMs: 30_000,
  maxPollDelayMs: 5 * 60_000,
  deadlineMs: { KLING: 2 * 3600_000, KIE: 2 * 3600_000, DIGITAL_HUMAN: 2 * 3600_000 },
  unconfirmedGraceMs: 65_000,
  accountRefusalMs: 60_000,
  routeWaitMs: 10_000,
  routeSubmitAttempts: 3,
  costEstimates: DEFAULT_COST_ESTIMATES,
};

/** Exponential backoff with jitter (half fixed, half random), never sooner than Retry-After. */
export function backoff(attempt: number, baseMs: number, maxMs: number, retryAfterMs?: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(retryAfterMs ?? 0, ceiling / 2 + Math.random() * (ceiling / 2));
}

/** A job's retry after `error`, backed off from `baseMs` by its attempts (and the provider's Retry-After). */
export function retryLater(job: JobRow, error: unknown, baseMs: number, maxMs: number): JobOutcome {
  const retryAfter = error instanceof ProviderError ? error.retryAfterMs : undefined;
  return { retryInMs: backoff(job.attempts, baseMs, maxMs, retryAfter), error: String(error) };
}
