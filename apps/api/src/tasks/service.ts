import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderError } from '@clipwire/providers';
import { isTerminalStatus, type TaskEventSource, type TaskStatus } from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';
import { generateSecret, sha256Hex, type Principal } from '../auth/api-keys.js';
import type { Database } from '../db/client.js';
import { DuplicateExternalTaskIdError, ProviderUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MediaStore } from '../media/store.js';
import { CALLBACK_SLUGS, providerForSlug, type AdapterRegistry } from '../providers/registry.js';
import { neverReachedProvider, type ProviderReport, type SubmitContext, type TaskAdapter } from '../providers/types.js';
import type { ClipwirePubSub } from '../pubsub.js';
import type { TaskDraft } from './intake.js';
import {
  findTaskById,
  findTaskByCallbackTokenHash,
  findTasksInStatus,
  insertTask,
  isUniqueViolation,
  listActiveTasks,
  patchTask,
  transitionTask,
  type TaskPatch,
  type Transition,
} from './repository.js';

export interface TaskServiceDeps {
  db: Database;
  pubsub: ClipwirePubSub;
  adapters: AdapterRegistry;
  media: MediaStore;
  log: Logger;
  /** Where providers reach us: callbacks and /media links are built on it. */
  publicBaseUrl: () => string;
  submitRetry?: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  poll?: PollSettings;
}

export interface PollSettings {
  /** How often the poller looks for tasks due a check. */
  intervalMs: number;
  /** First check of a provider without callbacks, after submission; doubles up to maxDelayMs. */
  noCallbackDelayMs: number;
  /** First check of a provider with callbacks, in case they are lost; doubles up to maxDelayMs. */
  callbackGraceMs: number;
  maxDelayMs: number;
  /** A task not final this long after creation ends FAILED. */
  deadlineMs: number;
}

export const DEFAULT_POLL: PollSettings = {
  intervalMs: 1000,
  noCallbackDelayMs: 2000,
  callbackGraceMs: 30_000,
  maxDelayMs: 5 * 60_000,
  deadlineMs: 2 * 60 * 60_000,
};

export type CallbackOutcome = { status: 200 | 400 | 404 | 503; message: string };

export const MAX_CALLBACK_BYTES = 64 * 1024;

const TO_STATUS: Record<ProviderReport['status'], TaskStatus | null> = {
  QUEUED: 'SUBMITTED',
  RUNNING: 'PROCESSING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  UNKNOWN: null,
};

/**
 * Everything that changes a task goes through here: creation, submission, provider reports,
 * polling. Each change is committed with its event, then published.
 *
 * Submission and polling run in this process for now; the durable job queue replaces `schedule`
 * and the in-memory poll plan.
 */
export class TaskService {
  /** Callback tokens of tasks created by this process and not yet submitted; never persisted in clear. */
  private readonly pendingTokens = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly nextPoll = new Map<string, { at: number; delay: number }>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopping = false;
  private readonly retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  private readonly poll: PollSettings;

  constructor(private readonly deps: TaskServiceDeps) {
    this.retry = deps.submitRetry ?? { attempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 };
    this.poll = deps.poll ?? DEFAULT_POLL;
  }

  /** Commits the task PENDING with its first event (and its stored media), then schedules the submission. */
  async create(principal: Principal, draft: TaskDraft): Promise<TaskRow> {
    const adapter = this.deps.adapters.get(draft.provider, draft.kind);
    if (!adapter) throw new ProviderUnavailableError(draft.provider, `${draft.provider} is not configured for ${draft.kind}`);
    const token = generateSecret(32);
    try {
      const { task } = await insertTask(this.deps.db, async (tx) => {
        const mediaIds = [];
        for (const upload of draft.uploads) mediaIds.push(await this.deps.media.put(tx, principal.tenantId, upload.bytes, upload.mime));
        return {
          id: randomUUID(),
          tenantId: principal.tenantId,
          kind: draft.kind,
          provider: draft.provider,
          model: draft.model,
          status: 'PENDING',
          statusMessage: 'waiting to be submitted',
          externalTaskId: draft.externalTaskId,
          input: draft.input,
          providerRequest: resolveUploads(draft.request, mediaIds),
          callbackTokenHash: sha256Hex(token),
        };
      });
      this.pendingTokens.set(task.id, token);
      this.publish(task);
      this.schedule(() => this.submit(task.id));
      return task;
    } catch (error) {
      if (draft.externalTaskId !== null && isUniqueViolation(error)) throw new DuplicateExternalTaskIdError(draft.externalTaskId);
      throw error;
    }
  }

  /**
   * Submits a PENDING task, exactly once upstream: whenever the outcome of a create is unknown,
   * the task is looked up before anything is resent; where the provider cannot be asked (no
   * client-chosen id), an unconfirmed create is never resent blindly.
   */
  async submit(taskId: string): Promise<void> {
    const task = await findTaskById(this.deps.db, taskId);
    if (!task || task.status !== 'PENDING' || !task.providerRequest) return;
    const adapter = this.adapter(task);
    const log = this.deps.log.child({ taskId, provider: task.provider });

    let token = this.pendingTokens.get(taskId);
    if (!token) {
      // This process did not create the task (it restarted since): an earlier attempt may have
      // reached the provider with a callback token we no longer hold. Ask before sending anything.
      if (adapter.findsUnconfirmedCreates && (await this.adoptUpstream(task, adapter))) return;
      token = generateSecret(32);
      if (!(await patchTask(this.deps.db, taskId, 'PENDING', { callbackTokenHash: sha256Hex(token) }))) return;
    }
    const ctx = this.submitContext(task, adapter, token);

    for (let attempt = 1; ; attempt++) {
      if (this.stopping) return;
      try {
        const report = await adapter.submit(task, ctx);
        this.pendingTokens.delete(taskId);
        await this.applyReport(task, report, 'API', { submittedAt: new Date() });
        this.planPoll(task.id, adapter);
        return;
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        const unconfirmed = (error.kind === 'network' || error.kind === 'timeout') && !neverReachedProvider(error);
        if ((unconfirmed || isDuplicateCreate(error)) && adapter.findsUnconfirmedCreates) {
          if (await this.adoptUpstream(task, adapter)) {
            this.pendingTokens.delete(taskId);
            return;
          }
        } else if (unconfirmed) {
          log.warn({ code: error.code, kind: error.kind }, 'create outcome unknown and the provider cannot be asked');
          return this.fail(task, 'SUBMISSION_UNCONFIRMED', null,
            `${task.provider} may or may not have accepted the task (${error.message}); it was not sent again so that it cannot run twice`);
        }
        if (!error.retryable || attempt >= this.retry.attempts) {
          log.warn({ code: error.code, kind: error.kind, attempt }, 'submission failed');
          this.pendingTokens.delete(taskId);
          return this.fail(task, `PROVIDER_${error.kind.toUpperCase()}`, error.code, `${task.provider} refused the task: ${error.message}`);
        }
        const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        const delay = Math.max(error.retryAfterMs ?? 0, backoff / 2 + Math.random() * (backoff / 2));
        log.info({ code: error.code, kind: error.kind, attempt, delayMs: Math.round(delay) }, 'submission will be retried');
        await sleep(delay);
      }
    }
  }

  /** Re-reads the task from the provider's API (the authenticated source of truth) and applies it. */
  async refreshFromProvider(task: TaskRow, source: TaskEventSource): Promise<TaskRow> {
    if (isTerminalStatus(task.status)) return task;
    const adapter = this.adapter(task);
    const report = await adapter.lookup(task);
    if (!report) return task;
    return (await this.applyReport(task, report, source)) ?? (await findTaskById(this.deps.db, task.id)) ?? task;
  }

  /**
   * A provider callback. The URL token identifies the task; the body is at best half-signed, so it
   * is only a notification: status and result URLs come from the provider's API.
   */
  async handleCallback(
    slug: string,
    token: string,
    rawBody: string,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<CallbackOutcome> {
    const provider = providerForSlug(slug);
    if (!provider || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) return { status: 404, message: 'unknown callback' };
    const task = await findTaskByCallbackTokenHash(this.deps.db, sha256Hex(token));
    if (!task || task.provider !== provider) return { status: 404, message: 'unknown callback' };
    const adapter = this.adapter(task);
    if (!adapter.callbackIsAbout) return { status: 404, message: 'unknown callback' };
    let about: boolean;
    try {
      about = adapter.callbackIsAbout(task, JSON.parse(rawBody), headers);
    } catch {
      return { status: 400, message: 'malformed callback body' };
    }
    if (!about) return { status: 400, message: 'callback is not about this task' };
    if (isTerminalStatus(task.status)) return { status: 200, message: 'already final' };
    try {
      await this.refreshFromProvider(task, 'CALLBACK');
      return { status: 200, message: 'ok' };
    } catch (error) {
      this.deps.log.warn({ taskId: task.id, err: error }, 'could not confirm a callback with the provider');
      return { status: 503, message: 'try again later' };
    }
  }

  /** Resumes what a previous process left, and starts the poller. */
  async start(): Promise<void> {
    for (const task of await findTasksInStatus(this.deps.db, 'PENDING', 1000)) this.schedule(() => this.submit(task.id));
    this.pollTimer = setInterval(() => void this.pollDue(), this.poll.intervalMs);
    this.pollTimer.unref();
  }

  /** Stops starting new work and waits for what is in flight. */
  async drain(): Promise<void> {
    this.stopping = true;
    clearInterval(this.pollTimer);
    await Promise.allSettled([...this.inflight]);
  }

  /**
   * Checks every running task that is due: all of them for providers without callbacks, and the
   * others when their callbacks are late. A task past its deadline ends FAILED.
   */
  async pollDue(now = Date.now()): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      for (const task of await listActiveTasks(this.deps.db, 500)) {
        if (now - task.createdAt.getTime() > this.poll.deadlineMs) {
          await this.fail(task, 'DEADLINE_EXCEEDED', null, `not finished within ${Math.round(this.poll.deadlineMs / 60_000)} minutes`);
          continue;
        }
        if (task.status === 'PENDING') continue; // the submitter owns it
        const adapter = this.adapter(task);
        const plan = this.nextPoll.get(task.id) ?? this.planPoll(task.id, adapter, task.updatedAt.getTime());
        if (plan.at > now) continue;
        const delay = Math.min(this.poll.maxDelayMs, plan.delay * 2);
        this.nextPoll.set(task.id, { at: now + delay, delay });
        this.schedule(async () => {
          const after = await this.refreshFromProvider(task, 'POLL');
          if (isTerminalStatus(after.status)) this.nextPoll.delete(task.id);
        });
      }
    } catch (error) {
      this.deps.log.error({ err: error }, 'poll failed');
    } finally {
      this.polling = false;
    }
  }

  private planPoll(taskId: string, adapter: TaskAdapter, from = Date.now()) {
    const delay = adapter.callbacks ? this.poll.callbackGraceMs : this.poll.noCallbackDelayMs;
    const plan = { at: from + delay, delay };
    this.nextPoll.set(taskId, plan);
    return plan;
  }

  private submitContext(task: TaskRow, adapter: TaskAdapter, token: string): SubmitContext {
    const base = this.deps.publicBaseUrl();
    return {
      callbackUrl: adapter.callbacks ? `${base}/callbacks/${CALLBACK_SLUGS[task.provider]}/${token}` : null,
      mediaUrl: async (id) => `${base}${this.deps.media.signedPath(id)}`,
      mediaBase64: async (id) => {
        const media = await this.deps.media.get(id);
        if (!media) throw new Error(`stored media ${id} of task ${task.id} is missing`);
        return media.bytes.toString('base64');
      },
    };
  }

  private adapter(task: TaskRow): TaskAdapter {
    const adapter = this.deps.adapters.get(task.provider, task.kind);
    if (!adapter) throw new ProviderUnavailableError(task.provider, `${task.provider} is not configured for ${task.kind}`);
    return adapter;
  }

  private async applyReport(task: TaskRow, report: ProviderReport, source: TaskEventSource, extra: TaskPatch = {}) {
    const to = TO_STATUS[report.status];
    if (!to) {
      this.deps.log.warn({ taskId: task.id, rawStatus: report.rawStatus }, 'the provider reported a status we do not know; the task stays as it is');
      return null;
    }
    const patch: TaskPatch = {
      ...extra,
      providerTaskId: report.providerTaskId ?? task.providerTaskId,
      providerUpdatedAt: report.updatedAt,
      progress: report.progress,
      ...(to === 'SUCCEEDED' ? { output: report.output, cost: report.cost } : {}),
      ...(to === 'FAILED'
        ? { cost: report.cost, error: { code: 'PROVIDER_FAILED', message: report.failure?.message ?? 'the provider reported a failure', providerCode: report.failure?.providerCode ?? null } }
        : {}),
    };
    return this.apply({ taskId: task.id, to, source, message: report.message ?? defaultMessage(to, task.provider), patch });
  }

  private async fail(task: TaskRow, code: string, providerCode: string | null, message: string): Promise<void> {
    await this.apply({ taskId: task.id, to: 'FAILED', source: 'SYSTEM', message, patch: { error: { code, message, providerCode } } });
    this.nextPoll.delete(task.id);
  }

  private async apply(t: Transition): Promise<TaskRow | null> {
    const result = await transitionTask(this.deps.db, t);
    if (result) this.publish(result.task);
    return result?.task ?? null;
  }

  private async adoptUpstream(task: TaskRow, adapter: TaskAdapter): Promise<boolean> {
    const existing = await adapter.lookup(task);
    if (!existing) return false;
    await this.applyReport(task, existing, 'POLL', { submittedAt: new Date() });
    this.planPoll(task.id, adapter);
    return true;
  }

  private publish(task: TaskRow): void {
    this.deps.pubsub.publish('task:updated', task.id, { taskId: task.id, version: task.version });
  }

  private schedule(work: () => Promise<unknown>): void {
    const p = work()
      .catch((error: unknown) => this.deps.log.error({ err: error }, 'background task work failed'))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }
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
