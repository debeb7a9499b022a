import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderError } from '@clipwire/providers';
import { parseKlingCallback, type KlingClient, type KlingTask } from '@clipwire/providers/kling';
import {
  createAvatarVideoInputSchema,
  isTerminalStatus,
  type TaskEventSource,
} from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';
import { generateSecret, sha256Hex, type Principal } from '../auth/api-keys.js';
import type { Database } from '../db/client.js';
import { DuplicateExternalTaskIdError, issuesFromZod, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  KLING_AVATAR_MODEL,
  klingAvatarRequest,
  klingTransition,
  normalizedAvatarInput,
  type StoredKlingAvatarRequest,
} from '../providers/kling.js';
import type { ClipwirePubSub } from '../pubsub.js';
import {
  findTaskById,
  findTaskByCallbackTokenHash,
  findTasksInStatus,
  insertTask,
  isUniqueViolation,
  patchTask,
  transitionTask,
  type Transition,
} from './repository.js';

export interface TaskServiceDeps {
  db: Database;
  pubsub: ClipwirePubSub;
  kling: KlingClient;
  log: Logger;
  /** Where providers reach us: callbacks are `${publicBaseUrl}/callbacks/...`. */
  publicBaseUrl: () => string;
  submitRetry?: { attempts: number; baseDelayMs: number; maxDelayMs: number };
}

export type CallbackOutcome = { status: 200 | 400 | 404 | 503; message: string };

const MAX_CALLBACK_BYTES = 64 * 1024;
export { MAX_CALLBACK_BYTES };

/**
 * Everything that changes a task goes through here: creation, submission, provider reports.
 * Each change is committed with its event, then published.
 *
 * Submission runs in process for now; the durable job queue of the engine replaces `schedule`.
 */
export class TaskService {
  /** Callback tokens of tasks created by this process and not yet submitted; never persisted in clear. */
  private readonly pendingTokens = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private stopping = false;
  private readonly retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };

  constructor(private readonly deps: TaskServiceDeps) {
    this.retry = deps.submitRetry ?? { attempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 };
  }

  async createAvatarVideo(principal: Principal, rawInput: unknown): Promise<TaskRow> {
    const parsed = createAvatarVideoInputSchema.safeParse(rawInput);
    if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error.issues, ['input']));
    const input = parsed.data;
    const token = generateSecret(32);
    const id = randomUUID();
    try {
      const { task } = await insertTask(
        this.deps.db,
        {
          id,
          tenantId: principal.tenantId,
          kind: 'AVATAR_VIDEO',
          provider: input.provider,
          model: `${KLING_AVATAR_MODEL}-${input.kling.mode}`,
          status: 'PENDING',
          statusMessage: 'waiting to be submitted',
          externalTaskId: input.externalTaskId ?? null,
          input: normalizedAvatarInput(input),
          providerRequest: { ...klingAvatarRequest(input) },
          callbackTokenHash: sha256Hex(token),
        },
        'task created',
      );
      this.pendingTokens.set(task.id, token);
      this.publish(task);
      this.schedule(() => this.submit(task.id));
      return task;
    } catch (error) {
      if (input.externalTaskId !== undefined && isUniqueViolation(error)) {
        throw new DuplicateExternalTaskIdError(input.externalTaskId);
      }
      throw error;
    }
  }

  /**
   * Submits a PENDING task to Kling, exactly once: our task id goes up as `external_task_id`, and
   * whenever the outcome of a create is unknown we look the task up before anything is resent.
   */
  async submit(taskId: string): Promise<void> {
    const task = await findTaskById(this.deps.db, taskId);
    if (!task || task.status !== 'PENDING' || !task.providerRequest) return;
    const log = this.deps.log.child({ taskId });

    let token = this.pendingTokens.get(taskId);
    if (!token) {
      // This process did not create the task (it restarted since): an earlier attempt may have
      // reached Kling, with a callback token we no longer hold. Ask Kling before sending anything.
      if (await this.adoptUpstream(task, 'POLL')) return;
      token = generateSecret(32);
      if (!(await patchTask(this.deps.db, taskId, 'PENDING', { callbackTokenHash: sha256Hex(token) }))) return;
    }

    for (let attempt = 1; ; attempt++) {
      if (this.stopping) return;
      try {
        const created = await this.deps.kling.createAvatarVideo({
          ...(task.providerRequest as StoredKlingAvatarRequest),
          externalTaskId: task.id,
          callbackUrl: `${this.deps.publicBaseUrl()}/callbacks/kling/${token}`,
        });
        this.pendingTokens.delete(taskId);
        await this.applyKlingReport(taskId, created, 'API');
        return;
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        const unknownOutcome = error.kind === 'network' || error.kind === 'timeout' || isDuplicateExternalId(error);
        if (unknownOutcome && (await this.adoptUpstream(task, 'POLL'))) {
          this.pendingTokens.delete(taskId);
          return;
        }
        if (!error.retryable || attempt >= this.retry.attempts) {
          log.warn({ code: error.code, kind: error.kind, attempt }, 'submission failed');
          this.pendingTokens.delete(taskId);
          await this.apply({
            taskId,
            to: 'FAILED',
            source: 'SYSTEM',
            message: `Kling refused the task: ${error.message}`,
            patch: { error: { code: `PROVIDER_${error.kind.toUpperCase()}`, message: error.message, providerCode: error.code } },
          });
          return;
        }
        const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        const delay = Math.max(error.retryAfterMs ?? 0, backoff / 2 + Math.random() * (backoff / 2));
        log.info({ code: error.code, kind: error.kind, attempt, delayMs: Math.round(delay) }, 'submission will be retried');
        await sleep(delay);
      }
    }
  }

  /** Re-reads the task from Kling's API (the authenticated source of truth) and applies it. */
  async refreshFromProvider(task: TaskRow, source: TaskEventSource): Promise<TaskRow> {
    if (isTerminalStatus(task.status)) return task;
    const report = await this.lookupKling(task.id);
    if (!report) return task;
    return (await this.applyKlingReport(task.id, report, source)) ?? (await findTaskById(this.deps.db, task.id)) ?? task;
  }

  /**
   * A Kling callback. The URL token identifies the task; the body is unsigned, so it is only a
   * notification: status and result URLs come from Kling's API.
   */
  async handleKlingCallback(token: string, rawBody: string): Promise<CallbackOutcome> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return { status: 404, message: 'unknown callback' };
    const task = await findTaskByCallbackTokenHash(this.deps.db, sha256Hex(token));
    if (!task || task.provider !== 'KLING') return { status: 404, message: 'unknown callback' };
    let report: KlingTask;
    try {
      report = parseKlingCallback(JSON.parse(rawBody));
    } catch {
      return { status: 400, message: 'malformed callback body' };
    }
    const aboutThisTask =
      report.externalTaskId === task.id || (task.providerTaskId !== null && report.taskId === task.providerTaskId);
    if (!aboutThisTask) return { status: 400, message: 'callback body names another task' };
    if (isTerminalStatus(task.status)) return { status: 200, message: 'already final' };
    try {
      await this.refreshFromProvider(task, 'CALLBACK');
      return { status: 200, message: 'ok' };
    } catch (error) {
      this.deps.log.warn({ taskId: task.id, err: error }, 'could not confirm a callback with Kling');
      return { status: 503, message: 'try again later' };
    }
  }

  /** Resumes what a previous process left: PENDING tasks are submitted (lookup first), running ones re-read. */
  async recover(): Promise<void> {
    for (const status of ['PENDING', 'SUBMITTED', 'PROCESSING'] as const) {
      for (const task of await findTasksInStatus(this.deps.db, status, 1000)) {
        this.schedule(() => (status === 'PENDING' ? this.submit(task.id) : this.refreshFromProvider(task, 'POLL')));
      }
    }
  }

  /** Stops starting new attempts and waits for the ones in flight. */
  async drain(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inflight]);
  }

  private async applyKlingReport(taskId: string, report: KlingTask, source: TaskEventSource): Promise<TaskRow | null> {
    const change = klingTransition(report);
    if (!change) {
      this.deps.log.warn({ taskId, rawStatus: report.rawStatus }, 'Kling reported a status we do not know; keeping the task as it is');
      return null;
    }
    return this.apply({ taskId, to: change.to, source, message: change.message, patch: change.patch });
  }

  private async apply(t: Transition): Promise<TaskRow | null> {
    const result = await transitionTask(this.deps.db, t);
    if (result) this.publish(result.task);
    return result?.task ?? null;
  }

  /** Finds the task on Kling by our id; null when Kling has never seen it. */
  private async lookupKling(taskId: string): Promise<KlingTask | null> {
    try {
      return await this.deps.kling.getAvatarVideo({ externalTaskId: taskId });
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'not_found') return null;
      throw error;
    }
  }

  private async adoptUpstream(task: TaskRow, source: TaskEventSource): Promise<boolean> {
    const existing = await this.lookupKling(task.id);
    if (!existing) return false;
    await this.applyKlingReport(task.id, existing, source);
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

function isDuplicateExternalId(error: ProviderError): boolean {
  return error.kind === 'validation' && /external_task_id/i.test(error.message) && /exist/i.test(error.message);
}
