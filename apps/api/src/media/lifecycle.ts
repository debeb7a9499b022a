import { TERMINAL_STATUSES } from '@clipwire/schema';
import { jobs as jobTable, mediaObjects, tasks } from '@clipwire/schema/tables';
import { and, eq, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { type Database, rowsOf } from '../db/client.js';
import type { JobOutcome, JobQueue } from '../jobs/queue.js';
import type { JobRow } from '@clipwire/schema/tables';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import { inputKey } from './store.js';

/** Rows handled per transaction by the upgrade move and by retention. */
const BATCH = 100;
const HOUR_MS = 60 * 60 * 1000;
/** The first retention sweeps (inputs, archived outputs) after a worker's start; then hourly. */
export const FIRST_SWEEP_AFTER_MS = 10 * 60 * 1000;
/**
 * How old an object under `inputs/` must be before the orphan sweep may take it for one: far longer
 * than any create takes between writing its uploads and committing the rows that name them.
 */
export const ORPHAN_GRACE_MS = HOUR_MS;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The maintenance jobs: each is queued once (its dedupe key) and queues its next run itself. */
export const MAINTENANCE_JOBS = {
  legacyMedia: { kind: 'legacy-media', dedupeKey: 'maintenance:legacy-media' },
  inputRetention: { kind: 'input-retention', dedupeKey: 'maintenance:input-retention' },
} as const;

/** A task's archived outputs (written by the output archiver) are all under this prefix. */
export function outputsPrefix(tenantId: string, taskId: string): string {
  return `outputs/${tenantId}/${taskId}/`;
}

/**
 * What happens to stored media after their create: the move of media kept in the database before the
 * object store (upgrade), retention (inputs of final tasks deleted after INPUT_RETENTION_DAYS) and a
 * task's erasure. Each deletes the objects first, then marks the rows in the same transaction that
 * selected them (so a crash in between leaves rows that the next run deletes again: deleting a missing
 * object is not an error), and a deleted input answers 410 on /media.
 */
export class MediaLifecycle {
  constructor(
    private readonly db: Database,
    private readonly objects: ObjectStore,
    private readonly jobs: JobQueue,
    private readonly log: Logger,
    private readonly retentionDays: number,
  ) {}

  /**
   * At a worker's start (any process may; one runs each job), in one statement: the first input
   * retention sweep, `firstSweepAfterMs` from now unless a sweep is queued already (a process that
   * restarts often does not sweep at each start, and its queued sweep keeps its time), and the move
   * of media kept in the database only while such rows exist (nothing is stored that way again).
   * Returns whether the move was queued.
   */
  async schedule(firstSweepAfterMs = FIRST_SWEEP_AFTER_MS): Promise<boolean> {
    const { legacyMedia, inputRetention } = MAINTENANCE_JOBS;
    const sweepAt = new Date(Date.now() + firstSweepAfterMs).toISOString();
    const queued = rowsOf<{ kind: string }>(
      await this.db.execute(sql`
        insert into ${jobTable} (queue, payload, dedupe_key, run_at)
        select 'maintenance', jsonb_build_object('kind', m.kind), m.dedupe_key, m.run_at
        from (values (${inputRetention.kind}, ${inputRetention.dedupeKey}, ${sweepAt}::timestamptz),
                     (${legacyMedia.kind}, ${legacyMedia.dedupeKey}, now())) as m (kind, dedupe_key, run_at)
        where m.kind <> ${legacyMedia.kind}
           or exists (select 1 from ${mediaObjects} where ${mediaObjects.bytes} is not null)
        on conflict (dedupe_key) do nothing
        returning payload ->> 'kind' as kind`),
    );
    const legacy = queued.some((row) => row.kind === legacyMedia.kind);
    if (legacy) this.jobs.nudge(['maintenance']);
    return legacy;
  }

  /** The 'maintenance' queue's handler. */
  async job(job: JobRow): Promise<JobOutcome> {
    if (job.payload.kind === MAINTENANCE_JOBS.legacyMedia.kind) {
      const moved = await this.moveLegacy();
      if (moved > 0) this.log.info({ moved }, 'media kept in the database moved to the object store');
      return { done: true }; // nothing is ever stored the old way again: no next run
    }
    if (job.payload.kind === MAINTENANCE_JOBS.inputRetention.kind) {
      const deleted = await this.applyRetention();
      if (deleted > 0) this.log.info({ deleted, days: this.retentionDays }, 'stored inputs past retention deleted');
      const orphans = await this.sweepOrphans();
      if (orphans > 0) this.log.info({ orphans }, 'stored inputs no media row names deleted');
      const next = MAINTENANCE_JOBS.inputRetention;
      await this.jobs.enqueue(this.db, {
        queue: 'maintenance',
        payload: { kind: next.kind },
        dedupeKey: next.dedupeKey,
        runAt: new Date(Date.now() + HOUR_MS),
      });
      return { done: true };
    }
    this.log.warn({ payload: job.payload }, 'unknown maintenance job dropped');
    return { done: true };
  }

  /**
   * Moves every media object still kept in the database (`bytes`) into the store, a batch per
   * transaction: the batch's rows are locked (SKIP LOCKED: processes share the work), their bytes
   * written to the store, then the rows get their storage key and lose their bytes, and commit.
   * Interrupted, a batch rolls back and is moved again (the same keys, overwritten). Returns how many.
   */
  async moveLegacy(batch = BATCH): Promise<number> {
    let moved = 0;
    for (;;) {
      const count = await this.db.transaction(async (tx) => {
        const rows = await tx
          .select({
            id: mediaObjects.id,
            tenantId: mediaObjects.tenantId,
            mime: mediaObjects.mime,
            bytes: mediaObjects.bytes,
          })
          .from(mediaObjects)
          .where(isNotNull(mediaObjects.bytes))
          .limit(batch)
          .for('update', { skipLocked: true });
        for (const row of rows) {
          const key = inputKey(row.tenantId, row.id);
          await this.objects.put(key, row.bytes!, { contentType: row.mime });
          await tx.update(mediaObjects).set({ storageKey: key, bytes: null }).where(eq(mediaObjects.id, row.id));
        }
        return rows.length;
      });
      moved += count;
      if (count < batch) return moved;
    }
  }

  /**
   * Deletes the stored inputs of tasks that are final and were created more than `retentionDays` ago
   * (and of media no task names any more, legacy rows of tasks submitted before the upgrade, as old).
   * Returns how many media objects were deleted.
   */
  async applyRetention(now = new Date(), batch = BATCH): Promise<number> {
    const cutoff = new Date(now.getTime() - this.retentionDays * 24 * HOUR_MS);
    let deleted = 0;
    for (;;) {
      const count = await this.db.transaction(async (tx) => {
        const rows = await tx
          .select({ id: mediaObjects.id, storageKey: mediaObjects.storageKey })
          .from(mediaObjects)
          .leftJoin(tasks, eq(tasks.id, mediaObjects.taskId))
          .where(
            and(
              isNull(mediaObjects.deletedAt),
              sql`${mediaObjects.createdAt} < ${cutoff.toISOString()}`,
              sql`(${tasks.id} is null or ${inArray(tasks.status, [...TERMINAL_STATUSES])})`,
            ),
          )
          .limit(batch)
          .for('update', { of: mediaObjects, skipLocked: true });
        await this.markDeleted(tx, rows);
        return rows.length;
      });
      deleted += count;
      if (count < batch) return deleted;
    }
  }

  /**
   * Deletes the objects under `inputs/` older than `graceMs` that no `media_objects` row names (by its
   * storage key, or by its id for a legacy row being moved): what a create left when it crashed
   * between writing its uploads and committing. Checked `batch` keys per query. Returns how many.
   */
  async sweepOrphans(now = new Date(), graceMs = ORPHAN_GRACE_MS, batch = BATCH): Promise<number> {
    const cutoff = now.getTime() - graceMs;
    let deleted = 0;
    let old: string[] = [];
    for await (const page of this.objects.list('inputs/')) {
      for (const object of page) {
        if (object.modifiedAt.getTime() >= cutoff) continue;
        old.push(object.key);
        if (old.length >= batch) {
          deleted += await this.deleteUnreferenced(old);
          old = [];
        }
      }
    }
    if (old.length > 0) deleted += await this.deleteUnreferenced(old);
    return deleted;
  }

  /** Deletes those of `keys` that no media row names; returns how many. */
  async deleteUnreferenced(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const ids = keys.map((k) => k.split('/').at(-1)!).filter((id) => UUID.test(id));
    const named = await this.db
      .select({ id: mediaObjects.id, storageKey: mediaObjects.storageKey })
      .from(mediaObjects)
      .where(
        ids.length > 0
          ? or(inArray(mediaObjects.storageKey, [...keys]), inArray(mediaObjects.id, ids))
          : inArray(mediaObjects.storageKey, [...keys]),
      );
    const kept = new Set(named.flatMap((r) => [r.storageKey, r.id]));
    const orphans = keys.filter((k) => !kept.has(k) && !kept.has(k.split('/').at(-1)!));
    if (orphans.length > 0) await this.objects.delete(orphans);
    return orphans.length;
  }

  /**
   * Right to erasure: deletes a task's stored inputs and archived outputs now, and marks the task
   * erased (its row, events and outputs' metadata stay, so feeds and webhooks keep their history).
   * Idempotent: erasing again deletes whatever may have been left and keeps the first erasure time.
   */
  async eraseTask(tenantId: string, taskId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const rows = await tx
        .select({ id: mediaObjects.id, storageKey: mediaObjects.storageKey })
        .from(mediaObjects)
        .where(and(eq(mediaObjects.taskId, taskId), eq(mediaObjects.tenantId, tenantId)))
        .for('update');
      await this.markDeleted(tx, rows, true);
      await this.objects.deletePrefix(outputsPrefix(tenantId, taskId));
      await tx
        .update(tasks)
        .set({ erasedAt: sql`coalesce(${tasks.erasedAt}, now())` })
        .where(and(eq(tasks.id, taskId), eq(tasks.tenantId, tenantId)));
    });
  }

  /** Deletes the rows' objects, then clears and marks the rows (in the caller's transaction). */
  private async markDeleted(
    tx: Parameters<Parameters<Database['transaction']>[0]>[0],
    rows: { id: string; storageKey: string | null }[],
    keepFirstTime = false,
  ): Promise<void> {
    if (rows.length === 0) return;
    await this.objects.delete(rows.flatMap((r) => (r.storageKey ? [r.storageKey] : [])));
    await tx
      .update(mediaObjects)
      .set({ bytes: null, deletedAt: keepFirstTime ? sql`coalesce(${mediaObjects.deletedAt}, now())` : sql`now()` })
      .where(
        inArray(
          mediaObjects.id,
          rows.map((r) => r.id),
        ),
      );
  }
}
