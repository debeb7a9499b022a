import { randomUUID } from 'node:crypto';
import { ProviderError } from '@clipwire/providers';
import {
  isTerminalStatus,
  statusesBefore,
  type Provider,
  type TaskEventSource,
  type TaskStatus,
} from '@clipwire/schema';
import { tasks, type JobRow, type MediaObjectRow, type TaskRow } from '@clipwire/schema/tables';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Principal } from '../auth/api-keys.js';
import { generateSecret, sha256Hex } from '../crypto.js';
import { crashPoint } from '../crash.js';
import type { Database, Tx } from '../db/client.js';
import { driverValues, fieldPlaceholders, run } from '../db/prepared.js';
import { DuplicateExternalTaskIdError, ProviderRejectedError, ProviderUnavailableError } from '../errors.js';
import type { ClaimStep, JobOutcome, JobQueue } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { MediaStore } from '../media/store.js';
import { CircuitOpenError, type ProviderHealth } from '../providers/health.js';
import { CALLBACK_SLUGS, providerForSlug, type AdapterRegistry } from '../providers/registry.js';
import {
  neverReachedProvider,
  type CallbackReading,
  type ProviderReport,
  type SubmitContext,
  type TaskAdapter,
} from '../providers/types.js';
import type { ClipwirePubSub } from '../pubsub.js';
import { nextWake, WakeTimer } from '../jobs/wake-timer.js';
import { storable } from '../text.js';
import type { WebhookService } from '../webhooks/service.js';
import type { TaskDraft } from './intake.js';
import {
  claimDuePolls,
  countInFlight,
  countSubmitsSince,
  findOverdueTasks,
  findTask,
  nextPollDue,
  findTaskById,
  findTaskByCallbackTokenHash,
  insertTask,
  isUniqueViolation,
  transitionTask,
  type TaskPatch,
  type Transition,
} from './repository.js';

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
};

export interface TaskServiceDeps {
  db: Database;
  pubsub: ClipwirePubSub;
  adapters: AdapterRegistry;
  media: MediaStore;
  jobs: JobQueue;
  health: ProviderHealth;
  webhooks: WebhookService;
  log: Logger;
  /** Where providers reach us: callbacks and /media links are built on it. */
  publicBaseUrl: () => string;
  engine: EngineSettings;
}

export type CallbackOutcome = { status: 200 | 400 | 404; message: string };

/**
 * What the submission job's claim prepared: the task as the claim left it and, when the claim committed
 * an attempt, that attempt's callback token and the stored media the provider takes inline.
 */
export interface SubmitClaim {
  task: TaskRow;
  attempt: SubmitAttempt | null;
}

interface SubmitAttempt {
  token: string;
  media: Map<string, MediaObjectRow>;
}

export const MAX_CALLBACK_BYTES = 64 * 1024;

const TO_STATUS: Record<ProviderReport['status'], TaskStatus | null> = {
  QUEUED: 'SUBMITTED',
  RUNNING: 'PROCESSING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  UNKNOWN: null,
};

const done: JobOutcome = { done: true };
/** The job was deleted in the transaction of the change that ended it. */
const completed: JobOutcome = { done: true, completed: true };
const RATE_WINDOW_MARGIN_MS = 250;
const RECENT_ROWS = 4096;

/**
 * Everything that changes a task goes through here. Each change commits with its event (and the
 * jobs it calls for) in one transaction, then is published. Upstream work runs as durable jobs,
 * so a task survives any process dying at any point; a create whose outcome is unknown is
 * resolved by looking the task up, never by resending blindly.
 */
export class TaskService {
  /**
   * Account-level refusals seen lately, per provider (quota, arrears, no permission): while one is
   * fresh, new tasks for that provider are refused at once instead of being accepted to fail.
   */
  private readonly accountRefusals = new Map<Provider, { code: string; message: string; until: number }>();
  private readonly recentRows = new Map<string, TaskRow>();
  /** Callback token hash → task id, for the rows in recentRows. */
  private readonly recentTokens = new Map<string, string>();
  private readonly pollWake = new WakeTimer(() => void this.pollRound());
  private pollIntervalMs = 0;
  private polling = false;

  constructor(private readonly deps: TaskServiceDeps) {}

  /** Commits the task PENDING with its first event, its stored media and its submission job. */
  async create(principal: Principal, draft: TaskDraft & { webhookUrl: string | null }): Promise<TaskRow> {
    const adapter = this.deps.adapters.get(draft.provider, draft.kind);
    if (!adapter)
      throw new ProviderUnavailableError(draft.provider, `${draft.provider} is not configured for ${draft.kind}`);
    const refusal = this.accountRefusals.get(draft.provider);
    if (refusal && refusal.until > Date.now()) {
      throw new ProviderRejectedError(
        draft.provider,
        refusal.code,
        `${draft.provider} is refusing this account's tasks: ${refusal.message}`,
      );
    }
    const id = randomUUID();
    try {
      const { task, event, queuedJobs } = await insertTask(
        this.deps.db,
        async (tx) => {
          const mediaIds = [];
          for (const upload of draft.uploads)
            mediaIds.push(await this.deps.media.put(tx, principal.tenantId, upload.bytes, upload.mime));
          await this.deps.jobs.enqueue(tx, { queue: 'submit', payload: { taskId: id }, dedupeKey: `submit:${id}` });
          crashPoint('create:before-commit');
          return {
            id,
            tenantId: principal.tenantId,
            kind: draft.kind,
            provider: draft.provider,
            model: draft.model,
            status: 'PENDING',
            statusMessage: 'waiting to be submitted',
            externalTaskId: draft.externalTaskId,
            input: draft.input,
            providerRequest: resolveUploads(draft.request, mediaIds),
            webhookUrl: draft.webhookUrl,
          };
        },
        this.deps.webhooks.changeJobs,
      );
      this.deps.jobs.nudge(queuedJobs ? ['submit', 'webhook'] : ['submit']);
      this.publish(task, event.id);
      return task;
    } catch (error) {
      if (draft.externalTaskId !== null && isUniqueViolation(error))
        throw new DuplicateExternalTaskIdError(draft.externalTaskId);
      throw error;
    }
  }

  /**
   * The submission job's ClaimStep, inside the claim's transaction: reads the task and, when it is to
   * be sent now, takes its slot, commits the attempt (with a fresh callback token's hash) and reads the
   * media the provider takes inline. Claiming a submission is one transaction.
   */
  readonly claimSubmit: ClaimStep = async (tx, job) => {
    const task = await findTaskById(tx, String(job.payload.taskId));
    if (task?.status !== 'PENDING' || !task.providerRequest) return { settle: done };
    const adapter = this.deps.adapters.get(task.provider, task.kind);
    // An earlier attempt's outcome is unknown, or the provider is not configured here: the job decides.
    if (task.submitStartedAt !== null || !adapter) return { context: { task, attempt: null } satisfies SubmitClaim };
    const started = await this.startAttempt(tx, task, adapter);
    return 'task' in started ? { context: started } : { settle: started };
  };

  /**
   * Inside the caller's transaction: admits the task (see `admit`) with a fresh callback token and
   * reads the media the provider takes inline; or the outcome for the job when the task is gone or
   * its provider at its limit.
   */
  private async startAttempt(
    tx: Tx,
    task: TaskRow,
    adapter: TaskAdapter,
  ): Promise<{ task: TaskRow; attempt: SubmitAttempt } | JobOutcome> {
    const token = generateSecret(32);
    const admitted = await this.admit(tx, task, sha256Hex(token));
    if (admitted === 'gone') return done;
    if (admitted === 'busy') return busy(task.provider);
    const media = adapter.inlinesMedia
      ? await this.deps.media.getMany(tx, mediaIdsOf(admitted.providerRequest))
      : new Map<string, MediaObjectRow>();
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
    const adapter = this.adapter(task);
    const log = this.deps.log.child({ taskId: task.id, provider: task.provider });
    const { engine } = this.deps;

    let attempt = claim?.attempt ?? null;
    if (!attempt) {
      if (task.submitStartedAt !== null) {
        // The previous attempt's outcome is unknown (its process died, or the request timed out).
        if (!adapter.findsUnconfirmedCreates) {
          await this.fail(
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
          return this.retryLater(job, error, engine.retryBaseMs);
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
        log.info(
          { waitedMs: waited, attempts: task.submitAttempts },
          'earlier create not found upstream after the grace period: sending it again',
        );
        await this.clearAttempt(task.id);
      }
      const pending = task;
      const started = await this.deps.db.transaction((tx) => this.startAttempt(tx, pending, adapter));
      if (!('task' in started)) return started;
      ({ task, attempt } = started);
    }
    crashPoint('submit:after-attempt-committed');
    this.remember(task); // its callback token is known here from now on
    if (task.nextPollAt) this.planPoll(task.nextPollAt.getTime());

    let report: ProviderReport;
    try {
      const ctx = this.submitContext(task, adapter, attempt);
      const sending = task;
      report = await this.deps.health.call(task.provider, () => adapter.submit(sending, ctx));
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        // Nothing was sent: the attempt does not count against the task.
        await this.clearAttempt(task.id, true);
        return { retryInMs: 5000, error: error.message };
      }
      if (!(error instanceof ProviderError)) throw error;
      const unconfirmed = (error.kind === 'network' || error.kind === 'timeout') && !neverReachedProvider(error);
      if (unconfirmed) {
        // Leave the attempt marked: the next run looks the task up before anything is resent.
        log.warn({ code: error.code, kind: error.kind }, 'create outcome unknown');
        return { retryInMs: 1000, error: error.message };
      }
      await this.clearAttempt(task.id);
      const attempts = task.submitAttempts;
      if (isDuplicateCreate(error) && adapter.findsUnconfirmedCreates) {
        // A create we did not know of is upstream after all: a second create went out for this task.
        log.warn(
          { code: error.code, attempts },
          'create refused as a duplicate of one already upstream; adopting that one',
        );
        if (await this.adoptUpstream(task, adapter)) return done;
      }
      if (error.retryable && attempts < engine.submitAttempts) {
        const delay = backoff(attempts, engine.retryBaseMs, engine.retryMaxMs, error.retryAfterMs);
        log.info(
          { code: error.code, kind: error.kind, attempts, delayMs: Math.round(delay) },
          'submission will be retried',
        );
        return { retryInMs: delay, error: error.message };
      }
      log.warn({ code: error.code, kind: error.kind, attempts }, 'submission failed');
      if (error.kind === 'quota' || error.kind === 'permission') {
        this.accountRefusals.set(task.provider, {
          code: error.code,
          message: error.message,
          until: Date.now() + engine.accountRefusalMs,
        });
      }
      await this.fail(
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
    await this.applyReport(task, report, 'API', { submittedAt: new Date(), ...this.firstPoll(adapter) }, job);
    return completed;
  }

  /** The refresh job: a callback (or the poller) says the task may have moved; read the provider's API. */
  async refreshJob(job: JobRow): Promise<JobOutcome> {
    const task = await findTaskById(this.deps.db, String(job.payload.taskId));
    if (!task || isTerminalStatus(task.status)) return done;
    if (task.status === 'PENDING') {
      // A callback can overtake the create's own answer: come back once the submission has landed.
      if (task.submitStartedAt !== null && job.attempts < 20)
        return { retryInMs: 500 * job.attempts, error: 'submission still in progress' };
      return done;
    }
    const source = job.payload.source === 'CALLBACK' ? 'CALLBACK' : 'POLL';
    try {
      await this.refreshFromProvider(task, source);
      return done;
    } catch (error) {
      return this.retryLater(job, error, 2000);
    }
  }

  /** Re-reads the task from the provider's API (the authenticated source of truth) and applies it. */
  async refreshFromProvider(task: TaskRow, source: TaskEventSource): Promise<TaskRow> {
    if (isTerminalStatus(task.status)) return task;
    const adapter = this.adapter(task);
    const report = await this.deps.health.call(task.provider, () => adapter.lookup(task));
    crashPoint('refresh:after-provider-read');
    if (!report) return task;
    return (await this.applyReport(task, report, source)) ?? (await findTaskById(this.deps.db, task.id)) ?? task;
  }

  /**
   * A provider callback. The URL token identifies the task. A callback whose whole body is
   * authenticated (a configured signing secret) is applied at once, in one transaction with its
   * event; any other is only a notification: it is acknowledged and a job reads the provider's API.
   */
  async handleCallback(
    slug: string,
    token: string,
    rawBody: string,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<CallbackOutcome> {
    const provider = providerForSlug(slug);
    if (!provider || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) return { status: 404, message: 'unknown callback' };
    const hash = sha256Hex(token);
    // The row this process last wrote, when it has it (the process that submitted a task usually does):
    // a status only moves forward, so an older row than the database's only makes a replay cost a statement.
    const task = this.recentByToken(hash) ?? (await findTaskByCallbackTokenHash(this.deps.db, hash));
    if (!task || task.provider !== provider) return { status: 404, message: 'unknown callback' };
    const adapter = this.adapter(task);
    if (!adapter.readCallback) return { status: 404, message: 'unknown callback' };
    let reading: CallbackReading;
    try {
      reading = adapter.readCallback(task, rawBody, headers);
    } catch {
      return { status: 400, message: 'malformed callback body' };
    }
    if (!reading.about) return { status: 400, message: 'callback is not about this task' };
    if (isTerminalStatus(task.status)) return { status: 200, message: 'already final' };
    // A PENDING task's create has not been answered yet. That the provider accepted it is what the
    // answer itself will say (and, should it never come, the next attempt looks the task up); any later
    // news is read by the refresh job, which waits for the answer.
    if (task.status === 'PENDING' && reading.report?.status === 'QUEUED')
      return { status: 200, message: 'nothing new' };
    if (reading.report && reading.report.status !== 'UNKNOWN' && task.status !== 'PENDING') {
      const applied = await this.applyReport(task, reading.report, 'CALLBACK');
      return { status: 200, message: applied ? 'applied' : 'nothing new' };
    }
    await this.deps.jobs.enqueue(this.deps.db, {
      queue: 'refresh',
      payload: { taskId: task.id, source: 'CALLBACK' },
      dedupeKey: `refresh:${task.id}`,
    });
    this.deps.jobs.nudge(['refresh']);
    crashPoint('callback:after-ack-queued');
    return { status: 200, message: 'accepted' };
  }

  /**
   * One round of reconciliation, in one transaction: running tasks whose next poll is due get a refresh
   * job (each claimed by one process), tasks past their provider's deadline are found (and then end
   * FAILED), and the time of the next due poll or deadline is read. Returns that time (epoch ms), or
   * null when no task is running.
   */
  async pollOnce(): Promise<number | null> {
    const { engine } = this.deps;
    const round = await this.deps.db.transaction(async (tx) => {
      const due = await claimDuePolls(tx, 200, engine.maxPollDelayMs);
      if (due.length > 0) {
        await this.deps.jobs.enqueue(
          tx,
          ...due.map((t) => ({
            queue: 'refresh' as const,
            payload: { taskId: t.id, source: 'POLL' },
            dedupeKey: `refresh:${t.id}`,
          })),
        );
      }
      const overdue = await findOverdueTasks(tx, engine.deadlineMs, 100);
      // A full batch of due polls, or overdue tasks (failed below): another round at once.
      const next = due.length === 200 || overdue.length > 0 ? new Date() : await nextPollDue(tx, engine.deadlineMs);
      return { due, overdue, next };
    });
    if (round.due.length > 0) this.deps.jobs.nudge(['refresh']);
    for (const task of round.overdue) {
      const deadlineMs = engine.deadlineMs[task.provider];
      await this.fail(
        task,
        'DEADLINE_EXCEEDED',
        null,
        `not finished within ${Math.round(deadlineMs / 60_000)} minutes of its creation`,
      );
    }
    return round.next?.getTime() ?? null;
  }

  /**
   * Runs pollOnce when the next poll or deadline falls due, and at least every `intervalMs` (polls
   * planned by other processes, which cannot tell this one); a poll this process plans sooner wakes it.
   * Nothing is queried while nothing is due.
   */
  startPolling(intervalMs: number): void {
    this.pollIntervalMs = intervalMs;
    this.polling = true;
    this.planPoll(Date.now());
  }

  stopPolling(): void {
    this.polling = false;
    this.pollWake.cancel();
  }

  /** Polls at `at` (epoch ms) unless an earlier round is planned. */
  private planPoll(at: number): void {
    if (this.polling) this.pollWake.at(at);
  }

  private async pollRound(): Promise<void> {
    let next: number | null;
    try {
      next = await this.pollOnce();
    } catch (err) {
      this.deps.log.error({ err }, 'poll failed');
      next = Date.now() + 1000;
    }
    this.planPoll(nextWake(next, this.pollIntervalMs));
  }

  /**
   * At a worker's start: callbacks may have been lost while no worker ran, so every running task
   * gets a poll now rather than at its planned time.
   */
  async pollRunningTasksNow(): Promise<number> {
    const moved = await this.deps.db
      .update(tasks)
      .set({ nextPollAt: sql`now()` })
      .where(and(inArray(tasks.status, ['SUBMITTED', 'PROCESSING']), sql`${tasks.nextPollAt} > now()`))
      .returning({ id: tasks.id });
    return moved.length;
  }

  /** Stops a task that is not final. A PENDING task is never submitted; a running one is no longer followed. */
  async cancel(principal: Principal, taskId: string): Promise<TaskRow | null> {
    const task = await findTask(this.deps.db, principal.tenantId, { id: taskId });
    if (!task) return null;
    if (isTerminalStatus(task.status)) return task;
    const message =
      task.status === 'PENDING' && task.submitStartedAt === null
        ? 'canceled before it was submitted'
        : `canceled; ${task.provider} has no cancellation, so it may still finish there, but it is no longer followed`;
    return (
      (await this.apply({ taskId, to: 'CANCELED', source: 'API', message })) ??
      (await findTaskById(this.deps.db, taskId))
    );
  }

  /** Re-reads a task from its provider now. */
  async refresh(principal: Principal, taskId: string): Promise<TaskRow | null> {
    const task = await findTask(this.deps.db, principal.tenantId, { id: taskId });
    if (!task || isTerminalStatus(task.status) || task.status === 'PENDING') return task;
    return this.refreshFromProvider(task, 'POLL');
  }

  /** Counts for the providers query. */
  async usage(provider: Provider): Promise<{ inFlight: number; limit: number | null }> {
    return {
      inFlight: await countInFlight(this.deps.db, provider),
      limit: this.deps.engine.concurrency[provider] ?? null,
    };
  }

  private firstPoll(adapter: TaskAdapter): TaskPatch {
    const delay = adapter.callbacks ? this.deps.engine.callbackGraceMs : this.deps.engine.noCallbackPollMs;
    return { nextPollAt: new Date(Date.now() + delay), pollDelayMs: delay };
  }

  /**
   * Inside the caller's transaction: takes a slot under the provider's limits and marks the attempt
   * (its callback token's hash, the first poll). Where the provider has a limit, concurrent workers in
   * any process are serialized by an advisory lock so that they never exceed it together; where it has
   * none, no lock is taken and nothing is counted. Returns the task as marked.
   */
  private async admit(tx: Tx, task: TaskRow, tokenHash: string): Promise<TaskRow | 'busy' | 'gone'> {
    const slots = this.deps.engine.concurrency[task.provider];
    const window = this.deps.engine.rate[task.provider];
    if (slots !== undefined || window !== undefined) {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`clipwire:submit:${task.provider}`}))`);
      if (slots !== undefined && (await countInFlight(tx, task.provider)) >= slots) return 'busy';
      // A little margin: our window starts before the request reaches the provider.
      const since = new Date(Date.now() - (window?.windowMs ?? 0) - RATE_WINDOW_MARGIN_MS);
      if (window && (await countSubmitsSince(tx, task.provider, since)) >= window.creates) return 'busy';
    }
    // The first poll is planned here, before anything is sent, so that a task moved on by a
    // callback before our own update still gets polled if later callbacks are lost.
    const poll = this.firstPoll(this.adapter(task));
    const marks = {
      callbackTokenHash: tokenHash,
      nextPollAt: poll.nextPollAt ?? null,
      pollDelayMs: poll.pollDelayMs ?? null,
    };
    const [marked] = await run(
      tx,
      'task-admit',
      (tx) =>
        tx
          .update(tasks)
          .set({
            ...fieldPlaceholders(Object.keys(marks)),
            submitAttempts: sql`${tasks.submitAttempts} + 1`,
            submitStartedAt: sql`now()`,
          })
          .where(
            and(eq(tasks.id, sql.placeholder('taskId')), eq(tasks.status, 'PENDING'), isNull(tasks.submitStartedAt)),
          )
          .returning(),
      { taskId: task.id, ...driverValues(tasks, marks) },
    );
    return marked ?? 'gone';
  }

  /** The attempt got a definite answer (or never left): nothing of it is upstream. */
  private async clearAttempt(taskId: string, refund = false): Promise<void> {
    await this.deps.db
      .update(tasks)
      .set({
        submitStartedAt: null,
        ...(refund ? { submitAttempts: sql`greatest(${tasks.submitAttempts} - 1, 0)` } : {}),
      })
      .where(and(eq(tasks.id, taskId), eq(tasks.status, 'PENDING')));
  }

  private retryLater(job: JobRow, error: unknown, baseMs: number): JobOutcome {
    const retryAfter = error instanceof ProviderError ? error.retryAfterMs : undefined;
    return { retryInMs: backoff(job.attempts, baseMs, this.deps.engine.retryMaxMs, retryAfter), error: String(error) };
  }

  private submitContext(task: TaskRow, adapter: TaskAdapter, attempt: SubmitAttempt): SubmitContext {
    const base = this.deps.publicBaseUrl();
    return {
      callbackUrl: adapter.callbacks ? `${base}/callbacks/${CALLBACK_SLUGS[task.provider]}/${attempt.token}` : null,
      mediaUrl: async (id) => `${base}${this.deps.media.signedPath(id)}`,
      mediaBase64: async (id) => {
        const media = attempt.media.get(id) ?? (await this.deps.media.get(id));
        if (!media) throw new Error(`stored media ${id} of task ${task.id} is missing`);
        return media.bytes.toString('base64');
      },
    };
  }

  private adapter(task: Pick<TaskRow, 'provider' | 'kind'>): TaskAdapter {
    const adapter = this.deps.adapters.get(task.provider, task.kind);
    if (!adapter)
      throw new ProviderUnavailableError(task.provider, `${task.provider} is not configured for ${task.kind}`);
    return adapter;
  }

  /**
   * Applies a provider's report as a transition. `job`, when given, ends with it: deleted in the
   * transition's transaction (or on its own when the report changes nothing).
   */
  private async applyReport(
    task: Pick<TaskRow, 'id' | 'provider' | 'providerTaskId' | 'status'>,
    report: ProviderReport,
    source: TaskEventSource,
    extra: TaskPatch = {},
    job?: JobRow,
  ) {
    const to = TO_STATUS[report.status];
    if (!to) {
      this.deps.log.warn(
        { taskId: task.id, rawStatus: report.rawStatus },
        'the provider reported a status we do not know; the task stays as it is',
      );
      if (job) await this.deps.jobs.complete(job);
      return null;
    }
    // A report no step past the status we read (a replay, a poll with nothing new) would update nothing:
    // skip the statement. The row may have moved on since it was read, never back.
    if (!statusesBefore(to).includes(task.status)) {
      if (job) await this.deps.jobs.complete(job);
      return null;
    }
    const patch: TaskPatch = {
      ...extra,
      providerTaskId: report.providerTaskId ?? task.providerTaskId,
      providerUpdatedAt: report.updatedAt,
      progress: report.progress,
      ...(to === 'SUCCEEDED' ? { output: report.output, cost: report.cost } : {}),
      ...(to === 'FAILED'
        ? {
            cost: report.cost,
            error: {
              code: 'PROVIDER_FAILED',
              message: report.failure?.message ?? 'the provider reported a failure',
              providerCode: report.failure?.providerCode ?? null,
            },
          }
        : {}),
    };
    return this.apply(
      { taskId: task.id, to, source, message: report.message ?? defaultMessage(to, task.provider), patch },
      job,
    );
  }

  private async fail(task: TaskRow, code: string, providerCode: string | null, message: string): Promise<void> {
    await this.apply({
      taskId: task.id,
      to: 'FAILED',
      source: 'SYSTEM',
      message,
      patch: { error: { code, message, providerCode } },
    });
  }

  /** Every status change goes through here; providers' text in it is made storable first. */
  private async apply(t: Transition, job?: JobRow): Promise<TaskRow | null> {
    const change = storable(t);
    const { changeJobs } = this.deps.webhooks;
    const result = job
      ? await this.deps.db.transaction(async (tx) => {
          const changed = await transitionTask(tx, change, changeJobs);
          await this.deps.jobs.completeIn(tx, job);
          return changed;
        })
      : await transitionTask(this.deps.db, change, changeJobs);
    if (!result) return null;
    this.publish(result.task, result.event.id);
    if (result.queuedJobs) this.deps.jobs.nudge(['webhook']);
    return result.task;
  }

  private async adoptUpstream(task: TaskRow, adapter: TaskAdapter): Promise<boolean> {
    const existing = await this.deps.health.call(task.provider, () => adapter.lookup(task));
    if (!existing) return false;
    await this.applyReport(task, existing, 'POLL', { submittedAt: new Date(), ...this.firstPoll(adapter) });
    return true;
  }

  /**
   * The row a change made by this process left, when `version` is still its latest here: a taskUpdated
   * subscriber in this process takes it instead of reading it back (other processes read it).
   */
  recentRow(taskId: string, version: number): TaskRow | undefined {
    const row = this.recentRows.get(taskId);
    return row?.version === version ? row : undefined;
  }

  /** Keeps the row this process last wrote: oldest out first, a few thousand kept (enough for subscribers to catch up with a burst). */
  private remember(task: TaskRow): void {
    this.forget(task.id);
    this.recentRows.set(task.id, task);
    if (task.callbackTokenHash) this.recentTokens.set(task.callbackTokenHash, task.id);
    if (this.recentRows.size > RECENT_ROWS) this.forget(this.recentRows.keys().next().value!);
  }

  private forget(taskId: string): void {
    const row = this.recentRows.get(taskId);
    if (row?.callbackTokenHash) this.recentTokens.delete(row.callbackTokenHash);
    this.recentRows.delete(taskId);
  }

  /** The latest row this process wrote for the task whose callback token has this hash, if it has it. */
  private recentByToken(hash: string): TaskRow | null {
    const id = this.recentTokens.get(hash);
    const row = id === undefined ? undefined : this.recentRows.get(id);
    return row?.callbackTokenHash === hash ? row : null;
  }

  private publish(task: TaskRow, eventId: number): void {
    this.remember(task);
    this.deps.pubsub.publish('task:updated', task.id, { taskId: task.id, version: task.version });
    this.deps.pubsub.publish('tenant:events', task.tenantId, { eventId });
  }
}

/** Exponential backoff with jitter (half fixed, half random), never sooner than Retry-After. */
export function backoff(attempt: number, baseMs: number, maxMs: number, retryAfterMs?: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(retryAfterMs ?? 0, ceiling / 2 + Math.random() * (ceiling / 2));
}

function defaultMessage(status: TaskStatus, provider: string): string {
  switch (status) {
    case 'SUBMITTED':
      return `accepted by ${provider}`;
    case 'PROCESSING':
      return `${provider} is generating`;
    case 'SUCCEEDED':
      return 'done';
    default:
      return `${provider} reported ${status.toLowerCase()}`;
  }
}

function isDuplicateCreate(error: ProviderError): boolean {
  return error.kind === 'validation' && /external_task_id/i.test(error.message) && /exist/i.test(error.message);
}

/** Replaces `{ upload: n }` references in a draft request with the stored media ids. */
function resolveUploads(request: Record<string, unknown>, mediaIds: string[]): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.upload === 'number' && Object.keys(o).length === 1) return { mediaId: mediaIds[o.upload] };
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(request) as Record<string, unknown>;
}

/** The outcome of a submission that found its provider at its limit: try again shortly. */
function busy(provider: Provider): JobOutcome {
  return { retryInMs: 500 + Math.random() * 1000, error: `${provider} at its limit` };
}

/** The stored media a provider request refers to (`{ mediaId }` anywhere in it). */
function mediaIdsOf(request: unknown): string[] {
  const ids = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.mediaId === 'string' && Object.keys(o).length === 1) ids.add(o.mediaId);
      else Object.values(o).forEach(walk);
    }
  };
  walk(request);
  return [...ids];
}
