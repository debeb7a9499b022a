import type { ProviderError } from '@clipwire/providers';
import type { Provider, RouteAttempt, TaskKind } from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';
import { crashPoint } from '../crash.js';
import type { Database } from '../db/client.js';
import { ProviderRejectedError, ProviderUnavailableError } from '../errors.js';
import type { JobOutcome, JobQueue } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { ProviderHealth } from '../providers/health.js';
import type { AdapterRegistry } from '../providers/registry.js';
import type { TaskChanges, TaskChangeWebhooks } from './changes.js';
import { estimateCost } from './cost.js';
import type { EngineSettings } from './engine-settings.js';
import type { DraftStep, TaskDraft } from './intake.js';
import { routeChange } from './transitions.js';

export interface RoutingDeps {
  db: Database;
  jobs: JobQueue;
  webhooks: TaskChangeWebhooks;
  log: Logger;
  engine: EngineSettings;
}

/** Why a task leaves a provider: what the provider did, in its words or ours. */
export type Departure = Pick<RouteAttempt, 'outcome' | 'code' | 'message'>;

/**
 * A refusal that means "not this provider" (the next provider on the route may well take the task):
 * the account is refused (quota, arrears, permission, credentials), or the provider is unavailable once
 * its retries are spent (rate limits, overload, server errors). A refusal of the input itself (validation,
 * content policy) would be the same everywhere: the route stops there. So does an answer we could not
 * read (protocol), since it proves nothing about whether the task was taken.
 */
export function departureFor(error: ProviderError): Departure | null {
  const said = { code: error.code, message: error.message };
  switch (error.kind) {
    case 'quota':
    case 'permission':
    case 'auth':
      return { outcome: 'REFUSED', ...said };
    case 'rate_limit':
    case 'concurrency':
    case 'upstream':
    case 'network':
    case 'timeout':
      return { outcome: 'UNAVAILABLE', ...said };
    default:
      return null;
  }
}

/** Creates a task's provider is given for retryable failures: fewer while the route has somewhere else to go. */
export function submitAttemptsFor(task: Pick<TaskRow, 'route'>, engine: EngineSettings): number {
  return task.route.length > 0 ? engine.routeSubmitAttempts : engine.submitAttempts;
}

/** Whether a task has waited for a busy provider as long as its route allows (ROUTE_WAIT_MS). */
export function waitedLongEnough(task: Pick<TaskRow, 'route' | 'attempts' | 'createdAt'>, engine: EngineSettings) {
  if (task.route.length === 0) return false;
  const last = task.attempts.at(-1);
  const since = last ? Date.parse(last.at) : task.createdAt.getTime();
  return Date.now() - since >= engine.routeWaitMs;
}

/**
 * Moves tasks along their routes. A task moves on only when its provider provably holds no create of it:
 * a refused create, a create that never left, a busy provider never sent to, or a lookup by our id that
 * proves absence (see Submission). The move, its ROUTED event and its webhook commit in one statement.
 */
export class Routing {
  constructor(
    private readonly deps: RoutingDeps,
    private readonly changes: TaskChanges,
  ) {}

  /** Moves `task` to the next provider on its route (nothing when a concurrent change moved it first). */
  private async moveOn(task: TaskRow, why: Departure): Promise<void> {
    const [next, ...rest] = task.route;
    if (!next) throw new Error(`task ${task.id} has nowhere further to go`);
    crashPoint('route:before-move');
    const attempt: RouteAttempt = { provider: task.provider, ...why, at: new Date().toISOString() };
    const message = `${describe(task.provider, why)}; trying ${next.provider}`;
    const moved = await routeChange(
      this.deps.db,
      {
        taskId: task.id,
        from: task.provider,
        attempt,
        next,
        rest,
        costEstimate: estimateCost(this.deps.engine.costEstimates, next.provider, task.kind),
        message,
      },
      this.deps.webhooks.changeJobs,
    );
    if (!moved) return;
    crashPoint('route:after-move');
    this.deps.log.info(
      { taskId: task.id, tenant: task.tenantId, from: task.provider, to: next.provider, code: why.code },
      'task moved to the next provider on its route',
    );
    this.changes.publish(moved.task, moved.event.id);
    this.deps.jobs.nudge(moved.queuedJobs && moved.task.webhookUrl ? ['submit', 'webhook'] : ['submit']);
  }

  /** The submission job's outcome once the task left its provider: it runs again, for the next one. */
  async leave(task: TaskRow, why: Departure): Promise<JobOutcome> {
    await this.moveOn(task, why);
    return { retryInMs: 0, error: `left ${task.provider}: ${why.code ?? why.outcome}` };
  }

  /** Why a task leaves a provider that stayed at its limit for ROUTE_WAIT_MS. */
  busyTooLong(task: TaskRow): Departure {
    const message = `${task.provider} had no free slot for ${this.deps.engine.routeWaitMs} ms (ROUTE_WAIT_MS)`;
    return { outcome: 'UNAVAILABLE', code: 'BUSY', message };
  }
}

/**
 * Where on its route a task starts: the first provider that can take it now (`blocked` says why one
 * cannot: not configured, refusing the account, circuit open), those before it noted SKIPPED; else the
 * first that is only waiting for its circuit to close. When none is configured and willing, the first
 * one's error: ProviderUnavailable (not configured) or ProviderRejected (refusing the account).
 */
export function startOfRoute(
  draft: TaskDraft,
  blocked: (provider: Provider) => { code: string; message: string } | null,
): TaskDraft {
  const steps: DraftStep[] = [{ provider: draft.provider, model: draft.model, request: draft.request }, ...draft.route];
  const at = new Date().toISOString();
  const why = steps.map(({ provider }) => blocked(provider));
  const start = [why.indexOf(null), why.findIndex((b) => b?.code === 'CIRCUIT_OPEN')].find((i) => i >= 0);
  if (start === undefined) {
    const first = why[0]!;
    if (first.code === 'NOT_CONFIGURED') throw new ProviderUnavailableError(draft.provider, first.message);
    throw new ProviderRejectedError(draft.provider, first.code, first.message);
  }
  const skipped = why
    .slice(0, start)
    .map((b, i): RouteAttempt => ({ provider: steps[i]!.provider, outcome: 'SKIPPED', ...b!, at }));
  return { ...draft, ...steps[start]!, route: steps.slice(start + 1), skipped: [...draft.skipped, ...skipped] };
}

/** Why `provider` cannot take a new task of `kind` now, or null when it can. */
export function whyBlocked(
  provider: Provider,
  kind: TaskKind,
  deps: {
    adapters: AdapterRegistry;
    health: ProviderHealth;
    /** A fresh account-level refusal of the provider (see Submission.refusal). */
    refusal: (provider: Provider) => { code: string; message: string } | undefined;
  },
): { code: string; message: string } | null {
  if (!deps.adapters.get(provider, kind)) {
    return { code: 'NOT_CONFIGURED', message: `${provider} is not configured for ${kind}` };
  }
  const refusal = deps.refusal(provider);
  if (refusal)
    return { code: refusal.code, message: `${provider} is refusing this account's tasks: ${refusal.message}` };
  if (deps.health.state(provider) === 'OPEN') return { code: 'CIRCUIT_OPEN', message: `${provider}'s circuit is open` };
  return null;
}

function describe(provider: Provider, why: Departure): string {
  const code = why.code ? ` (${why.code})` : '';
  return why.outcome === 'REFUSED' ? `${provider} refused the task${code}` : `${provider} unavailable${code}`;
}
