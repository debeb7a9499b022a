import type { ArchivedFile } from '@clipwire/schema';
import { tasks, type JobRow, type TaskRow } from '@clipwire/schema/tables';
import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import { crashPoint } from '../crash.js';
import type { Database } from '../db/client.js';
import type { JobOutcome, JobQueue, JobSelect } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import { MediaFetchError, type SafeAgent, safeStream } from '../media/safe-fetch.js';
import type { ObjectStore } from '../storage/object-store.js';
import { backoff } from '../tasks/engine-settings.js';
import { findTaskById } from '../tasks/repository.js';
import { type ChangeJobs, outputChange } from '../tasks/transitions.js';
import type { OutputLinks } from './links.js';
import {
  archivedCopy,
  linksAliveUntil,
  markDeleted,
  type OutputFile,
  outputFiles,
  outputPrefix,
  recordCopy,
  settleArchive,
} from './state.js';

export interface ArchiveSettings {
  /** ARCHIVE_MAX_BYTES: a larger output is not copied (its archive FAILED). */
  maxBytes: number;
  /** Per file: the whole download. */
  timeoutMs: number;
  /** Backoff of a failed copy while the provider's link lives. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** OUTPUT_RETENTION_DAYS: archived outputs are deleted this long after their task finished (unset: never). */
  retentionDays: number | undefined;
  /** How often the retention sweep runs. */
  retentionEveryMs: number;
}

export const DEFAULT_ARCHIVE: Omit<ArchiveSettings, 'maxBytes' | 'retentionDays'> = {
  timeoutMs: 30 * 60_000,
  retryBaseMs: 5_000,
  retryMaxMs: 3_600_000,
  retentionEveryMs: 3_600_000,
};

/**
 * The archive job a change queues, in the change's own statement (see ChangeJobs): one per task whose
 * change left its outputs PENDING — the SUCCEEDED transition, when ARCHIVE_OUTPUTS is on.
 */
export const ARCHIVE_CHANGE_JOB: JobSelect = {
  queue: 'archive',
  payload: sql`jsonb_build_object('taskId', t.id)`,
  groupKey: null,
  from: sql`t where (t.output -> 'archive' ->> 'status') = 'PENDING'`,
};

export interface OutputArchiverDeps {
  db: Database;
  store: ObjectStore;
  jobs: JobQueue;
  /** The SSRF-safe client (the sandbox simulator's origin allowed). */
  dispatcher: SafeAgent;
  links: OutputLinks;
  log: Logger;
  /** The jobs the archive's own change queues: its webhook. */
  changeJobs: ChangeJobs;
  /** Tells subscribers about a change committed here (remembered as the engine's own). */
  publish: (task: TaskRow, eventId: number) => void;
  settings: ArchiveSettings;
}

/** A copy that cannot succeed by trying again: too large, refused by policy, or a link the provider no longer serves. */
function isPermanent(error: unknown): boolean {
  if (!(error instanceof MediaFetchError)) return false;
  if (error.code === 'HTTP_STATUS')
    return (
      error.status !== undefined &&
      error.status >= 400 &&
      error.status < 500 &&
      error.status !== 408 &&
      error.status !== 429
    );
  return error.code !== 'TIMEOUT' && error.code !== 'NETWORK';
}

const TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
};

/**
 * Copies a SUCCEEDED task's outputs into the object store (the archive job) and deletes them once
 * they are older than the retention (the retention job). A copy streams from the provider through the
 * SSRF-safe client into the store, capped at `maxBytes`; each file's copy is recorded as soon as it is
 * stored, under a key that is the same on every run, so a run that died midway resumes with the files
 * not yet recorded and overwrites, never duplicates, what it had half done. The outcome (every output
 * ARCHIVED, or FAILED) commits with its event and webhook job, and the job's end, in one transaction.
 */
export class OutputArchiver {
  constructor(private readonly deps: OutputArchiverDeps) {}

  async archiveJob(job: JobRow): Promise<JobOutcome> {
    const { db, log, settings } = this.deps;
    const task = await findTaskById(db, String(job.payload.taskId));
    // Nothing to copy: not (or no longer) SUCCEEDED, settled already, or erased (deleteTask).
    if (task?.status !== 'SUCCEEDED' || task.output.archive?.status !== 'PENDING' || task.erasedAt)
      return { done: true };
    let output = task.output;
    const failures = new Map<string, string>();
    let transient: string | null = null;
    const todo = outputFiles(output).filter((file) => !archivedCopy(output, file));
    for (const [i, file] of todo.entries()) {
      try {
        output = recordCopy(output, file, await this.copy(task, file));
        crashPoint('archive:after-store');
        // Recorded at once, so a run that dies later does not copy it again; the last one is recorded
        // by the outcome's statement.
        if (i < todo.length - 1) await this.record(task.id, output);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.set(file.name, message);
        if (!isPermanent(error)) transient = message;
        log.warn({ taskId: task.id, file: file.name, attempt: job.attempts, err: message }, 'copying an output failed');
      }
    }
    if (transient !== null) {
      const delay = backoff(job.attempts, settings.retryBaseMs, settings.retryMaxMs);
      const alive = linksAliveUntil(output, task.completedAt ?? task.updatedAt).getTime();
      if (Date.now() + delay < alive) {
        if (output !== task.output) await this.record(task.id, output); // the last copy too, before waiting
        return { retryInMs: delay, error: transient };
      }
    }
    const settled = settleArchive(output, failures, new Date());
    const result = await db.transaction(async (tx) => {
      const changed = await outputChange(
        tx,
        {
          taskId: task.id,
          output: settled.output,
          type: settled.status === 'ARCHIVED' ? 'OUTPUTS_ARCHIVED' : 'OUTPUTS_ARCHIVE_FAILED',
          message:
            settled.status === 'ARCHIVED'
              ? 'outputs archived'
              : 'some outputs could not be archived: their links stay the provider’s',
        },
        this.deps.changeJobs,
      );
      await this.deps.jobs.completeIn(tx, job);
      return changed;
    });
    if (!result) {
      // Erased (deleteTask) while its outputs were being copied: leave none of them behind.
      await this.deps.store.deletePrefix(outputPrefix(task.tenantId, task.id));
    } else {
      log.info(
        { taskId: task.id, tenant: task.tenantId, archive: settled.status },
        `outputs ${settled.status.toLowerCase()}`,
      );
      this.deps.publish(result.task, result.event.id);
      if (result.queuedJobs) this.deps.jobs.nudge(['webhook']);
    }
    return { done: true, completed: true };
  }

  /** Records the copies made so far (the status stays; no event). */
  private async record(taskId: string, output: TaskRow['output']): Promise<void> {
    await this.deps.db
      .update(tasks)
      .set({ output })
      .where(and(eq(tasks.id, taskId), eq(tasks.status, 'SUCCEEDED'), isNull(tasks.erasedAt)));
  }

  /** Streams one provider link into the store under its stable key. */
  private async copy(task: TaskRow, file: OutputFile): Promise<ArchivedFile> {
    const { store, dispatcher, links, settings } = this.deps;
    const key = `${outputPrefix(task.tenantId, task.id)}${file.name}`;
    const fetched = await safeStream(file.url, {
      dispatcher,
      maxBytes: settings.maxBytes,
      timeoutMs: settings.timeoutMs,
    });
    try {
      const given = fetched.contentType?.split(';')[0]?.trim().toLowerCase();
      const guessed = TYPES[file.name.split('.').pop() ?? ''] ?? 'application/octet-stream';
      const contentType = given && given !== 'application/octet-stream' ? given : guessed;
      const stored = await store.put(key, fetched.body, { contentType, maxBytes: settings.maxBytes });
      return {
        key,
        url: links.url(key),
        sizeBytes: stored.sizeBytes,
        sha256: stored.sha256,
        contentType: stored.contentType,
      };
    } finally {
      fetched.body.destroy();
    }
  }

  /** Queues the retention sweep (at most one waiting), when a retention is set. */
  async scheduleRetention(delayMs = 0): Promise<void> {
    if (this.deps.settings.retentionDays === undefined) return;
    await this.deps.jobs.enqueue(this.deps.db, {
      queue: 'retention',
      payload: {},
      dedupeKey: 'retention',
      runAt: new Date(Date.now() + delayMs),
    });
    this.deps.jobs.nudge(['retention']);
  }

  /** The retention job: sweeps, then queues its next run. */
  async retentionJob(_job: JobRow): Promise<JobOutcome> {
    await this.sweepRetention();
    await this.scheduleRetention(this.deps.settings.retentionEveryMs);
    return { done: true };
  }

  /**
   * Deletes the archived outputs of tasks that finished more than OUTPUT_RETENTION_DAYS ago: their
   * objects, then their state (DELETED: their links answer 410 Gone). Returns how many tasks.
   */
  async sweepRetention(): Promise<number> {
    const { db, store, settings, log } = this.deps;
    const days = settings.retentionDays;
    if (days === undefined) return 0;
    let swept = 0;
    for (;;) {
      const due = await db
        .select({ id: tasks.id, tenantId: tasks.tenantId, output: tasks.output })
        .from(tasks)
        .where(
          and(
            sql`(${tasks.output} -> 'archive' ->> 'status') in ('ARCHIVED', 'FAILED')`,
            lt(tasks.completedAt, sql`now() - ${days} * interval '1 day'`),
          ),
        )
        .limit(100);
      for (const task of due) {
        const objects = await store.deletePrefix(outputPrefix(task.tenantId, task.id));
        await db
          .update(tasks)
          .set({ output: markDeleted(task.output, new Date()) })
          .where(eq(tasks.id, task.id));
        log.info({ taskId: task.id, tenant: task.tenantId, objects }, 'archived outputs deleted (retention)');
      }
      swept += due.length;
      if (due.length < 100) return swept;
    }
  }
}
