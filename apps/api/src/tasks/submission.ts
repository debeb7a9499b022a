import { ProviderError } from '@clipwire/providers';
import type { Provider } from '@clipwire/schema';
import type { JobRow, TaskRow } from '@clipwire/schema/tables';
import { crashPoint } from '../crash.js';
import { generateSecret, sha256Hex } from '../crypto.js';
import type { Database, Tx } from '../db/client.js';
import type { ClaimStep, JobOutcome } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { MediaMeta, MediaStore } from '../media/store.js';
import { CircuitOpenError, type ProviderHealth } from '../providers/health.js';
import { CALLBACK_SLUGS, type AdapterRegistry } from '../providers/registry.js';
import { mediaIdsOf } from '../providers/slice.js';
import { neverReachedProvider, type ProviderReport, type SubmitContext, type TaskAdapter } from '../providers/types.js';
import { admit, busy, clearAttempt, firstPoll } from './admission.js';
import { adapterFor, type TaskChanges } from './changes.js';
import { backoff, retryLater, type EngineSettings } from './engine-settings.js';
import type { RecentRows } from './recent-rows.js';
import { findTaskById } from './repository.js';
import { departureFor, submitAttemptsFor, waitedLongEnough, type Routing } from './routing.js';

export interface SubmissionDeps {
  db: Database;
  adapters: AdapterRegistry;
  media: MediaStore;
  health: ProviderHealth;
  log: Logger;
  /** Where providers reach us: callbacks and /media links are built on it. */
  publicBaseUrl: () => string;
  engine: EngineSettings;
}

/**
 * What the submission job's claim prepared: the task as the claim left it and, when the claim committed
 * an attempt, that attempt's callback token and the stored media the provider takes inline.
 */
export interface SubmitClaim {
  task: TaskRow;
  attempt: SubmitAttempt | null;
  /** Its provider stayed busy for ROUTE_WAIT_MS, and its route goes on: nothing was sent. */
  leaveBusy?: true;
}

interface SubmitAttempt {
  token: string;
  /** The rows of the stored media the request names (their bytes are in the object store). */
  media: Map<string, MediaMeta>;
}

const done: JobOutcome = { done: true };
/** The job was deleted in the transaction of the change that ended it. */
const completed: JobOutcome = { done: true, completed: true };

/**
 * Sends a task's create to its provider, at most once upstream: the submission job, its claim step,
 * and what an unconfirmed create calls for (looking the task up before anything is resent).
 */
export class Submission {
  /**
   * Account-level refusals seen lately, per provider (quota, arrears, no permission): while one is
   * fresh, new tasks for that provider are refused at once instead of being accepted to fail.
   */
  private readonly accountRefusals = new Map<Provider, { code: string; message: string; until: number }>();

  constructor(
    private readonly deps: SubmissionDeps,
    private readonly changes: TaskChanges,
    private readonly routing: Routing,
    private readonly recent: RecentRows,
    /** Plans a poll round at this time (epoch ms) unless an earlier one is planned. */
    private readonly planPoll: (at: number) => void,
  ) {}

  /** A fresh account-level refusal of `provider`, while new tasks for it are refused at once. */
  refusal(provider: Provider): { code: string; message: string } | undefined {
    const refusal = this.accountRefusals.get(provider);
    return refusal && refusal.until > Date.now() ? refusal : undefined;
  }

  /**
   * The submission job's ClaimStep, inside the claim's transaction: reads the task and, when it is to
   * be sent now, takes its slot, commits the attempt (with a fresh callback token's hash) and reads the
   * rows of the media it names. Claiming a submission is one transaction.
   */
  readonly claim: ClaimStep = async (tx, job) => {
    const task = await findTaskById(tx, String(job.payload.taskId));
    if (task?.status !== 'PENDING' || !task.providerRequest) return { settle: done };
    const adapter = this.deps.adapters.get(task.provider, task.kind);
    // An earlier attempt's outcome is unknown, or the provider is not configured here: the job decides.
    if (task.submitStartedAt !== null || !adapter) return { context: { task, attempt: null } satisfies SubmitClaim };
    const started = await this.startAttempt(tx, task, adapter);
    if (started === 'busy') {
      if (waitedLongEnough(task, this.deps.engine)) return { context: { task, attempt: null, leaveBusy: true } };
      return { settle: busy(task.provider) };
    }
    return 'task' in started ? { context: started } : { settle: started };
  };

  /**
   * Inside the caller's transaction: admits the task (see `admit`) with a fresh callback token and
   * reads the media the provider takes inline; 'busy' when its provider is at its limit; or the
   * outcome for the job when the task is gone.
   */
  private async startAttempt(
    tx: Tx,
    task: TaskRow,
    adapter: TaskAdapter,
  ): Promise<{ task: TaskRow; attempt: SubmitAttempt } | 'busy' | JobOutcome> {
    const token = generateSecret(32);
    const admitted = await admit(tx, this.deps.engine, task, adapter, sha256Hex(token));
    if (admitted === 'gone') return done;
    if (admitted === 'busy') return 'busy';
    // Their rows: the storage keys the inline bytes are read from, or presigned URLs made for.
    const media = await this.deps.media.getMany(tx, mediaIdsOf(admitted.providerRequest));
    return { task: admitted, attempt: { token, media } };
  }

  /**
   * The submission job. At most one create per task reaches the provider: the attempt is
   * committed (with a fresh callback token's hash) before the request goes out, so after a crash
   * or a timeout the next run knows a create may be upstream and looks for it first. Its answer,
   * the job's end and the jobs the change calls for commit together.
   */
  async submitJob(job: JobRow, context?: unknown): Promise<JobOutcome> {
    const claim = context as SubmitClaim | undefined;
    let task = claim?.task ?? (await findTaskById(this.deps.db, String(job.payload.taskId)));
    if (task?.status !== 'PENDING' || !task.providerRequest) return done;
    const adapter = adapterFor(this.deps.adapters, task);
    const log = this.deps.log.child({ taskId: task.id, provider: task.provider });
    const { engine } = this.deps;

    if (claim?.leaveBusy) return this.routing.leave(task, this.routing.busyTooLong(task));
    let attempt = claim?.attempt ?? null;
    if (!attempt) {
      if (task.submitStartedAt !== null) {
        // The previous attempt's outcome is unknown (its process died, or the request timed out).
        if (!adapter.findsUnconfirmedCreates) {
          await this.changes.fail(
            task,
            'SUBMISSION_UNCONFIRMED',
            null,
            `${task.provider} may or may not have accepted the task; it was not sent again so that it cannot run (and be paid for) twice`,
          );
          return done;
        }
        try {
          if (await this.adoptUpstream(task, adapter)) return done;
        } catch (error) {
          return retryLater(job, error, engine.retryBaseMs, engine.retryMaxMs);
        }
        // "Not found" proves nothing while the earlier request may still be on its way: resend only
        // once it can no longer land (the provider would otherwise see two creates).
        const waited = Date.now() - task.submitStartedAt.getTime();
        if (waited < engine.unconfirmedGraceMs) {
          return {
            retryInMs: engine.unconfirmedGraceMs - waited,
            error: 'earlier create not found yet; waiting before resending',
          };
        }
        // A lookup by our id proves the provider holds none: the route may go on, if its creates are spent.
        if (task.submitAttempts >= submitAttemptsFor(task, engine) && task.route.length > 0) {
          const message = `no answer to ${task.submitAttempts} creates, and a lookup by our id finds none upstream`;
          return this.routing.leave(task, { outcome: 'UNAVAILABLE', code: 'UNCONFIRMED_ABSENT', message });
        }
        log.info(
          { waitedMs: waited, attempts: task.submitAttempts },
          'earlier create not found upstream after the grace period: sending it again',
        );
        await clearAttempt(this.deps.db, task.id);
      }
      const pending = task;
      const started = await this.deps.db.transaction((tx) => this.startAttempt(tx, pending, adapter));
      if (started === 'busy') {
        if (waitedLongEnough(task, engine)) return this.routing.leave(task, this.routing.busyTooLong(task));
        return busy(task.provider);
      }
      if (!('task' in started)) return started;
      ({ task, attempt } = started);
    }
    crashPoint('submit:after-attempt-committed');
    this.recent.remember(task); // its callback token is known here from now on
    if (task.nextPollAt) this.planPoll(task.nextPollAt.getTime());

    let report: ProviderReport;
    try {
      const ctx = this.submitContext(task, adapter, attempt);
      const sending = task;
      report = await this.deps.health.call(task.provider, () => adapter.submit(sending, ctx));
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        // Nothing was sent: the next provider on the route may take it; else the attempt does not count.
        if (task.route.length > 0) {
          return this.routing.leave(task, { outcome: 'UNAVAILABLE', code: 'CIRCUIT_OPEN', message: error.message });
        }
        await clearAttempt(this.deps.db, task.id, true);
        return { retryInMs: 5000, error: error.message };
      }
      if (!(error instanceof ProviderError)) throw error;
      const unconfirmed = (error.kind === 'network' || error.kind === 'timeout') && !neverReachedProvider(error);
      if (unconfirmed) {
        // Leave the attempt marked: the next run looks the task up before anything is resent.
        log.warn({ code: error.code, kind: error.kind }, 'create outcome unknown');
        return { retryInMs: 1000, error: error.message };
      }
      const attempts = task.submitAttempts;
      const departure = departureFor(error);
      const retry = error.retryable && attempts < submitAttemptsFor(task, engine);
      if (!retry && departure && task.route.length > 0) {
        // A refused create: nothing of it is upstream, and the next provider may take the task.
        this.noteRefusal(task.provider, error);
        log.info({ code: error.code, kind: error.kind, attempts }, 'provider refused the task; its route goes on');
        return this.routing.leave(task, departure);
      }
      await clearAttempt(this.deps.db, task.id);
      if (isDuplicateCreate(error) && adapter.findsUnconfirmedCreates) {
        // A create we did not know of is upstream after all: a second create went out for this task.
        log.warn(
          { code: error.code, attempts },
          'create refused as a duplicate of one already upstream; adopting that one',
        );
        if (await this.adoptUpstream(task, adapter)) return done;
      }
      if (retry) {
        const delay = backoff(attempts, engine.retryBaseMs, engine.retryMaxMs, error.retryAfterMs);
        log.info(
          { code: error.code, kind: error.kind, attempts, delayMs: Math.round(delay) },
          'submission will be retried',
        );
        return { retryInMs: delay, error: error.message };
      }
      log.warn({ code: error.code, kind: error.kind, attempts }, 'submission failed');
      this.noteRefusal(task.provider, error);
      await this.changes.fail(
        task,
        `PROVIDER_${error.kind.toUpperCase()}`,
        error.code,
        `${task.provider} refused the task: ${error.message}`,
      );
      return done;
    }
    crashPoint('submit:after-upstream-accepted');
    this.accountRefusals.delete(task.provider);
    // The answer ("submitted"), the job's end and the jobs the change calls for: one transaction.
    await this.changes.applyReport(
      task,
      report,
      'API',
      { submittedAt: new Date(), ...firstPoll(engine, adapter) },
      job,
    );
    return completed;
  }

  /** An account-level refusal (quota, arrears, no permission) holds new tasks for the provider back a while. */
  private noteRefusal(provider: Provider, error: ProviderError): void {
    if (error.kind !== 'quota' && error.kind !== 'permission') return;
    this.accountRefusals.set(provider, {
      code: error.code,
      message: error.message,
      until: Date.now() + this.deps.engine.accountRefusalMs,
    });
  }

  private submitContext(task: TaskRow, adapter: TaskAdapter, attempt: SubmitAttempt): SubmitContext {
    const base = this.deps.publicBaseUrl();
    return {
      callbackUrl: adapter.callbacks ? `${base}/callbacks/${CALLBACK_SLUGS[task.provider]}/${attempt.token}` : null,
      mediaUrl: async (id) => this.deps.media.providerUrl(attempt.media.get(id), id, base),
      mediaBase64: async (id) => {
        const media = attempt.media.get(id) ?? (await this.deps.media.get(id));
        if (!media) throw new Error(`stored media ${id} of task ${task.id} is missing`);
        return (await this.deps.media.bytes(media)).toString('base64');
      },
    };
  }

  private async adoptUpstream(task: TaskRow, adapter: TaskAdapter): Promise<boolean> {
    const existing = await this.deps.health.call(task.provider, () => adapter.lookup(task));
    if (!existing) return false;
    await this.changes.applyReport(task, existing, 'POLL', {
      submittedAt: new Date(),
      ...firstPoll(this.deps.engine, adapter),
    });
    return true;
  }
}

function isDuplicateCreate(error: ProviderError): boolean {
  return error.kind === 'validation' && /external_task_id/i.test(error.message) && /exist/i.test(error.message);
}
