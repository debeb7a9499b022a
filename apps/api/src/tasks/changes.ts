import { statusesBefore, type TaskEventSource, type TaskStatus } from '@clipwire/schema';
import type { JobRow, TaskRow } from '@clipwire/schema/tables';
import type { Database } from '../db/client.js';
import { ProviderUnavailableError } from '../errors.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { AdapterRegistry } from '../providers/registry.js';
import type { ProviderReport, TaskAdapter } from '../providers/types.js';
import type { ClipwirePubSub } from '../pubsub.js';
import { succeededOutput } from '../outputs/state.js';
import { storable } from '../text.js';
import type { RecentRows } from './recent-rows.js';
import { transitionTask, type ChangeJobs, type TaskPatch, type Transition } from './transitions.js';

/**
 * What the task engine needs from webhooks: the jobs each change queues in its own statement. The
 * composition root passes the WebhookService in; tasks does not import webhooks.
 */
export interface TaskChangeWebhooks {
  readonly changeJobs: ChangeJobs;
}

export interface TaskChangesDeps {
  db: Database;
  pubsub: ClipwirePubSub;
  jobs: JobQueue;
  webhooks: TaskChangeWebhooks;
  log: Logger;
  /** ARCHIVE_OUTPUTS: a SUCCEEDED task's outputs are marked PENDING, which queues their archive job. */
  archiveOutputs: boolean;
}

const TO_STATUS: Record<ProviderReport['status'], TaskStatus | null> = {
  QUEUED: 'SUBMITTED',
  RUNNING: 'PROCESSING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  UNKNOWN: null,
};

/** The adapter of a task's provider and kind; ProviderUnavailableError when it is not configured here. */
export function adapterFor(adapters: AdapterRegistry, task: Pick<TaskRow, 'provider' | 'kind'>): TaskAdapter {
  const adapter = adapters.get(task.provider, task.kind);
  if (!adapter)
    throw new ProviderUnavailableError(task.provider, `${task.provider} is not configured for ${task.kind}`);
  return adapter;
}

/**
 * Status changes: each commits with its event (and the jobs it calls for) in one transaction, then
 * is published and remembered in this process.
 */
export class TaskChanges {
  constructor(
    private readonly deps: TaskChangesDeps,
    private readonly recent: RecentRows,
  ) {}

  /**
   * Applies a provider's report as a transition. `job`, when given, ends with it: deleted in the
   * transition's transaction (or on its own when the report changes nothing).
   */
  async applyReport(
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
      ...(to === 'SUCCEEDED'
        ? {
            output: succeededOutput(report.output, task.provider, new Date(), this.deps.archiveOutputs),
            cost: report.cost,
          }
        : {}),
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

  async fail(task: TaskRow, code: string, providerCode: string | null, message: string): Promise<void> {
    await this.apply({
      taskId: task.id,
      to: 'FAILED',
      source: 'SYSTEM',
      message,
      patch: { error: { code, message, providerCode } },
    });
  }

  /** Every status change goes through here; providers' text in it is made storable first. */
  async apply(t: Transition, job?: JobRow): Promise<TaskRow | null> {
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
    const { task, event } = result;
    this.deps.log.info(
      {
        taskId: task.id,
        tenant: task.tenantId,
        provider: task.provider,
        providerTaskId: task.providerTaskId,
        status: task.status,
        source: event.source,
        ...(task.error ? { error: task.error } : {}),
      },
      `task ${task.status}`,
    );
    this.publish(result.task, result.event.id);
    if (result.queuedJobs) {
      // Only the workers of what was queued: a claim that finds nothing is a transaction too.
      const archive = task.status === 'SUCCEEDED' && task.output.archive?.status === 'PENDING';
      this.deps.jobs.nudge([
        ...(task.webhookUrl ? (['webhook'] as const) : []),
        ...(archive ? (['archive'] as const) : []),
      ]);
    }
    return result.task;
  }

  /** Remembers the row and tells subscribers (the task's own and its tenant's feed). */
  publish(task: TaskRow, eventId: number): void {
    this.recent.remember(task);
    this.deps.pubsub.publish('task:updated', task.id, { taskId: task.id, version: task.version });
    this.deps.pubsub.publish('tenant:events', task.tenantId, { eventId });
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
