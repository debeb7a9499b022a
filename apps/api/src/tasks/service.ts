import { randomUUID } from 'node:crypto';
import { isTerminalStatus, type Provider, type TaskEventSource } from '@clipwire/schema';
import type { JobRow, TaskRow } from '@clipwire/schema/tables';
import type { Principal } from '../auth/api-keys.js';
import { crashPoint } from '../crash.js';
import type { Database } from '../db/client.js';
import { DuplicateExternalTaskIdError } from '../errors.js';
import type { ClaimStep, JobOutcome, JobQueue } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { MediaLifecycle } from '../media/lifecycle.js';
import type { MediaStore, StoredUpload } from '../media/store.js';
import type { ProviderHealth } from '../providers/health.js';
import type { AdapterRegistry } from '../providers/registry.js';
import type { ClipwirePubSub } from '../pubsub.js';
import { handleCallback, type CallbackOutcome } from './callbacks.js';
import { TaskChanges, type TaskChangeWebhooks } from './changes.js';
import type { EngineSettings } from './engine-settings.js';
import type { TaskDraft } from './intake.js';
import { Poller } from './polling.js';
import { RecentRows } from './recent-rows.js';
import { countInFlight } from './admission.js';
import { admitQuota } from './quota.js';
import { findTask, findTaskById, isUniqueViolation } from './repository.js';
import { Routing, startOfRoute, whyBlocked } from './routing.js';
import { Submission } from './submission.js';
import { insertTask } from './transitions.js';

export { MAX_CALLBACK_BYTES, type CallbackOutcome } from './callbacks.js';
export type { TaskChangeWebhooks } from './changes.js';
export { DEFAULT_ENGINE, type EngineSettings } from './engine-settings.js';
export type { SubmitClaim } from './submission.js';

export interface TaskServiceDeps {
  db: Database;
  pubsub: ClipwirePubSub;
  adapters: AdapterRegistry;
  media: MediaStore;
  /** Retention and erasure of stored media. */
  lifecycle: MediaLifecycle;
  jobs: JobQueue;
  health: ProviderHealth;
  /** What changes need from webhooks (the WebhookService: the jobs each change queues). */
  webhooks: TaskChangeWebhooks;
  log: Logger;
  /** ARCHIVE_OUTPUTS: succeeded tasks' outputs are copied into storage by the archive job. */
  archiveOutputs: boolean;
  /** Where providers reach us: callbacks and /media links are built on it. */
  publicBaseUrl: () => string;
  engine: EngineSettings;
}

/**
 * Everything that changes a task goes through here. Each change commits with its event (and the
 * jobs it calls for) in one transaction, then is published. Upstream work runs as durable jobs,
 * so a task survives any process dying at any point; a create whose outcome is unknown is
 * resolved by looking the task up, never by resending blindly.
 */
export class TaskService {
  private readonly recent = new RecentRows();
  private readonly changes: TaskChanges;
  private readonly submission: Submission;
  private readonly poller: Poller;

  constructor(private readonly deps: TaskServiceDeps) {
    this.changes = new TaskChanges(deps, this.recent);
    this.poller = new Poller(deps, this.changes);
    const routing = new Routing(deps, this.changes);
    this.submission = new Submission(deps, this.changes, routing, this.recent, (at) => this.poller.planPoll(at));
    this.claimSubmit = this.submission.claim;
  }

  /** Tells subscribers about a change committed outside the engine (the output archive's), remembering its row. */
  publish(task: TaskRow, eventId: number): void {
    this.changes.publish(task, eventId);
  }

  /** Commits the task PENDING with its first event, its stored media and its submission job. */
  async create(
    principal: Principal,
    draft: TaskDraft & { webhookUrl: string | null },
    /** The operation's logger (its tenant and request id on every line); the tenant's own by default. */
    log: Logger = this.deps.log.child({ tenant: principal.tenantId }),
  ): Promise<TaskRow> {
    const { adapters, health } = this.deps;
    const refusal = (provider: Provider) => this.submission.refusal(provider);
    draft = startOfRoute(draft, (provider) => whyBlocked(provider, draft.kind, { adapters, health, refusal }));
    const id = randomUUID();
    // The bytes go to the object store first; the rows that name them commit with the task.
    const stored = await this.storeUploads(principal.tenantId, draft);
    try {
      const { task, event, queuedJobs } = await insertTask(
        this.deps.db,
        async (tx) => {
          // Before anything is stored: the tenant's limits (throws QuotaExceededError), its cost reserved.
          const costEstimate = await admitQuota(
            tx,
            {
              tenantId: principal.tenantId,
              provider: draft.provider,
              kind: draft.kind,
              externalTaskId: draft.externalTaskId,
            },
            this.deps.engine.costEstimates,
          );
          for (const upload of stored) await this.deps.media.record(tx, principal.tenantId, id, upload);
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
            inputFingerprint: draft.fingerprint,
            input: draft.input,
            providerRequest: resolveUploads(
              draft.request,
              stored.map((u) => u.id),
            ),
            webhookUrl: draft.webhookUrl,
            costEstimate: String(costEstimate),
            route: draft.route.map((step) => ({
              ...step,
              request: resolveUploads(
                step.request,
                stored.map((u) => u.id),
              ),
            })),
            attempts: draft.skipped,
          };
        },
        this.deps.webhooks.changeJobs,
      );
      this.deps.jobs.nudge(queuedJobs ? ['submit', 'webhook'] : ['submit']);
      this.changes.publish(task, event.id);
      log.info(
        {
          taskId: task.id,
          kind: task.kind,
          provider: task.provider,
          model: task.model,
          externalTaskId: task.externalTaskId,
          media: draft.uploads.length,
        },
        'task created',
      );
      return task;
    } catch (error) {
      // Nothing refers to the objects written for a create that did not commit.
      await this.deps.media.discard(stored);
      if (draft.externalTaskId === null || !isUniqueViolation(error)) throw error;
      // The same create again (a client retrying after a lost answer): the task it made. Another
      // input under the same externalTaskId: a duplicate, naming the task that has it.
      const existing = await findTask(this.deps.db, principal.tenantId, { externalTaskId: draft.externalTaskId });
      if (existing && existing.inputFingerprint === draft.fingerprint) return existing;
      throw new DuplicateExternalTaskIdError(draft.externalTaskId, existing);
    }
  }

  /** Writes a draft's uploads to the object store, together; on any failure removes those written. */
  private async storeUploads(tenantId: string, draft: TaskDraft): Promise<StoredUpload[]> {
    const results = await Promise.allSettled(draft.uploads.map((u) => this.deps.media.upload(tenantId, u)));
    const stored = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await this.deps.media.discard(stored);
      throw failed.reason;
    }
    return stored;
  }

  /**
   * The submission job's ClaimStep, inside the claim's transaction: reads the task and, when it is to
   * be sent now, takes its slot, commits the attempt and reads the media the provider takes inline.
   */
  readonly claimSubmit: ClaimStep;

  /** The submission job: see Submission.submitJob. */
  submitJob(job: JobRow, context?: unknown): Promise<JobOutcome> {
    return this.submission.submitJob(job, context);
  }

  /** The refresh job: a callback (or the poller) says the task may have moved; read the provider's API. */
  refreshJob(job: JobRow): Promise<JobOutcome> {
    return this.poller.refreshJob(job);
  }

  /** Re-reads the task from the provider's API (the authenticated source of truth) and applies it. */
  refreshFromProvider(task: TaskRow, source: TaskEventSource): Promise<TaskRow> {
    return this.poller.refreshFromProvider(task, source);
  }

  /** A provider callback: see handleCallback. */
  handleCallback(
    slug: string,
    token: string,
    rawBody: string,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<CallbackOutcome> {
    const { db, adapters, jobs } = this.deps;
    return handleCallback(
      { db, adapters, jobs, changes: this.changes, recent: this.recent },
      slug,
      token,
      rawBody,
      headers,
    );
  }

  /** One round of reconciliation: see Poller.pollOnce. */
  pollOnce(): Promise<number | null> {
    return this.poller.pollOnce();
  }

  /** Polls when polls or deadlines fall due, and at least every `intervalMs`: see Poller.startPolling. */
  startPolling(intervalMs: number): void {
    this.poller.startPolling(intervalMs);
  }

  stopPolling(): void {
    this.poller.stopPolling();
  }

  /** At a worker's start: every running task gets a poll now (callbacks may have been lost). */
  pollRunningTasksNow(): Promise<number> {
    return this.poller.pollRunningTasksNow();
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
      (await this.changes.apply({ taskId, to: 'CANCELED', source: 'API', message })) ??
      (await findTaskById(this.deps.db, taskId))
    );
  }

  /**
   * Right to erasure: the task's stored media (inputs and archived outputs) are deleted now and the task
   * is marked erased; a task not final is canceled first, as cancelTask does. The row and its events
   * stay (feeds and webhooks keep their history). Null for an unknown id.
   */
  async erase(principal: Principal, taskId: string): Promise<TaskRow | null> {
    const task = await this.cancel(principal, taskId);
    if (!task) return null;
    await this.deps.lifecycle.eraseTask(principal.tenantId, taskId);
    return findTask(this.deps.db, principal.tenantId, { id: taskId });
  }

  /** Re-reads a task from its provider now. */
  async refresh(principal: Principal, taskId: string): Promise<TaskRow | null> {
    const task = await findTask(this.deps.db, principal.tenantId, { id: taskId });
    if (!task || isTerminalStatus(task.status) || task.status === 'PENDING') return task;
    return this.poller.refreshFromProvider(task, 'POLL');
  }

  /** Counts for the providers query. */
  async usage(provider: Provider): Promise<{ inFlight: number; limit: number | null }> {
    return {
      inFlight: await countInFlight(this.deps.db, provider),
      limit: this.deps.engine.concurrency[provider] ?? null,
    };
  }

  /** The row this process last wrote for the task, when `version` is still its latest here (see RecentRows.row). */
  recentRow(taskId: string, version: number): TaskRow | undefined {
    return this.recent.row(taskId, version);
  }
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
