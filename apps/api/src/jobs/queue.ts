import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { jobs, type JobQueue as QueueName, type JobRow } from '@clipwire/schema/tables';
import { and, asc, eq, inArray, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import type { Database, DbOrTx } from '../db/client.js';
import { driverValues, fieldPlaceholders, listPlaceholders, listValues, run } from '../db/prepared.js';
import type { Logger } from '../logger.js';

export type { QueueName, JobRow };

export interface NewJob {
  queue: QueueName;
  payload: Record<string, unknown>;
  /** At most one unclaimed job per key: a second enqueue with the same key is a no-op. */
  dedupeKey?: string;
  /** Jobs sharing a group run one at a time, oldest first. */
  groupKey?: string;
  runAt?: Date;
}

/** The NOTIFY channel that wakes other processes' workers when jobs are queued. */
export const JOBS_CHANNEL = 'clipwire_jobs';

export type JobOutcome = { done: true } | { retryInMs: number; error: string };
export type JobHandler = (job: JobRow) => Promise<JobOutcome>;

/**
 * A Postgres job table used with FOR UPDATE SKIP LOCKED. Chosen over pg-boss because a job must
 * be inserted in the same transaction as the state change that calls for it (through Drizzle, on
 * PGlite and postgres.js alike), and because pg-boss's fastest poll (0.5 s) would put half a second
 * between a provider callback and the subscriber it is for.
 */
export class JobQueue {
  readonly events = new EventEmitter();

  constructor(
    private readonly db: Database,
    readonly workerId: string = `w-${randomBytes(6).toString('hex')}`,
    private readonly notify = true,
  ) {}

  /** Inserts jobs inside the caller's transaction; call `nudge` after it commits. */
  async enqueue(tx: DbOrTx, ...list: NewJob[]): Promise<void> {
    if (list.length === 0) return;
    const rows = list.map((j) => ({ queue: j.queue, payload: j.payload, dedupeKey: j.dedupeKey ?? null, groupKey: j.groupKey ?? null, runAt: j.runAt ?? new Date() }));
    // One statement per number of jobs; a job the dedupe key turns away was queued (and notified) before.
    await run(
      tx,
      `jobs-insert:${list.length}:${this.notify}`,
      (db) =>
        db
          .insert(jobs)
          .values(rows.map((row, i) => fieldPlaceholders(Object.keys(row), i) as PgInsertValue<typeof jobs>))
          .onConflictDoNothing({ target: jobs.dedupeKey })
          .returning({ queued: this.queuedSql() }),
      Object.assign({}, ...rows.map((row, i) => driverValues(jobs, row, i))),
    );
  }

  /**
   * A data-modifying SQL that queues a `queue` job per row of `from`, for a CTE of a larger statement
   * (a change and the jobs it calls for, written at once). Returns a row per job, and notifies the
   * other processes like `enqueue` (NOTIFY is delivered at commit, once per transaction); call
   * `nudge` after it commits.
   */
  insertSelect(queue: QueueName, spec: { payload: SQL; groupKey: SQL | null; from: SQL }): SQL {
    return sql`insert into ${jobs} (queue, payload, group_key)
      select ${queue}, ${spec.payload}, ${spec.groupKey} from ${spec.from}
      returning ${this.queuedSql()} as queued`;
  }

  /** `true` per job written, notifying the other processes' workers (NOTIFY is sent at commit, once per transaction). */
  private queuedSql(): SQL<boolean> {
    return this.notify ? sql<boolean>`pg_notify(${JOBS_CHANNEL}, '') is not null` : sql<boolean>`true`;
  }

  /** Wakes this process's workers of these queues (all when none are named) now instead of at their next poll. */
  nudge(queues?: readonly QueueName[]): void {
    this.events.emit('nudge', queues);
  }

  /**
   * Claims up to `limit` due jobs under a lease. A group's later jobs wait while an earlier one is
   * unfinished. The dedupe key is released on claim, so a notification arriving while the job runs
   * queues another run instead of being lost.
   */
  async claim(queues: readonly QueueName[], limit: number, leaseMs: number): Promise<JobRow[]> {
    return run(
      this.db,
      `jobs-claim:${queues.length}`,
      (db) => {
        const due = db
          .select({ id: jobs.id })
          .from(jobs)
          .where(
            and(
              inArray(jobs.queue, listPlaceholders('queue', queues.length)),
              lte(jobs.runAt, sql`now()`),
              or(isNull(jobs.lockedUntil), lt(jobs.lockedUntil, sql`now()`)),
              or(isNull(jobs.groupKey), sql`not exists (select 1 from jobs e where e.group_key = ${jobs.groupKey} and e.id < ${jobs.id})`),
            ),
          )
          .orderBy(asc(jobs.runAt), asc(jobs.id))
          .limit(sql.placeholder('limit'))
          .for('update', { skipLocked: true });
        return db
          .update(jobs)
          .set({
            lockedBy: sql`${sql.placeholder('workerId')}`,
            lockedUntil: sql`now() + ${sql.placeholder('leaseMs')} * interval '1 millisecond'`,
            attempts: sql`${jobs.attempts} + 1`,
            dedupeKey: null,
          })
          .where(inArray(jobs.id, due))
          .returning();
      },
      { workerId: this.workerId, limit, leaseMs, ...listValues('queue', queues) },
    );
  }

  async extend(job: JobRow, leaseMs: number): Promise<void> {
    await this.db
      .update(jobs)
      .set({ lockedUntil: sql`now() + ${leaseMs} * interval '1 millisecond'` })
      .where(and(eq(jobs.id, job.id), eq(jobs.lockedBy, this.workerId)));
  }

  async complete(job: JobRow): Promise<void> {
    await run(
      this.db,
      'jobs-complete',
      (db) => db.delete(jobs).where(and(eq(jobs.id, sql.placeholder('id')), eq(jobs.lockedBy, sql.placeholder('workerId')))),
      { id: job.id, workerId: this.workerId },
    );
  }

  async retry(job: JobRow, delayMs: number, error: string): Promise<void> {
    await this.db
      .update(jobs)
      .set({
        runAt: sql`now() + ${Math.round(delayMs)} * interval '1 millisecond'`,
        lockedBy: null,
        lockedUntil: null,
        lastError: error.slice(0, 2000),
      })
      .where(and(eq(jobs.id, job.id), eq(jobs.lockedBy, this.workerId)));
  }

  /** Hands back the jobs this worker holds (graceful shutdown), or that a dead incarnation held. */
  async release(workerId = this.workerId): Promise<number> {
    const released = await this.db
      .update(jobs)
      .set({ lockedBy: null, lockedUntil: null })
      .where(eq(jobs.lockedBy, workerId))
      .returning({ id: jobs.id });
    return released.length;
  }

  /** Releases every lease: only for embedded PGlite, where this process is the only worker there can be. */
  async releaseAll(): Promise<number> {
    const released = await this.db
      .update(jobs)
      .set({ lockedBy: null, lockedUntil: null })
      .where(sql`${jobs.lockedBy} is not null`)
      .returning({ id: jobs.id });
    return released.length;
  }

  async depth(): Promise<{ queue: string; depth: number; oldestSeconds: number }[]> {
    const rows = await this.db
      .select({
        queue: jobs.queue,
        depth: sql<number>`count(*)::int`,
        oldestSeconds: sql<number>`coalesce(extract(epoch from now() - min(${jobs.createdAt})), 0)::float`,
      })
      .from(jobs)
      .groupBy(jobs.queue);
    return rows;
  }
}

export interface WorkerOptions {
  queues: readonly QueueName[];
  concurrency: number;
  pollMs: number;
  leaseMs: number;
}

/** Runs claimed jobs with bounded concurrency; a job is held under a lease that is extended while it runs. */
export class Worker {
  private running = 0;
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private claiming = false;
  private again = false;
  private readonly onNudge = (queues?: readonly QueueName[]) => {
    if (!queues || queues.some((q) => this.opts.queues.includes(q))) void this.tick();
  };

  constructor(
    private readonly queue: JobQueue,
    private readonly handlers: Partial<Record<QueueName, JobHandler>>,
    private readonly opts: WorkerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.queue.events.on('nudge', this.onNudge);
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    this.timer.unref();
    void this.tick();
  }

  /** Stops claiming, waits for the jobs in hand, and releases anything still held. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.queue.events.off('nudge', this.onNudge);
    await Promise.allSettled([...this.inflight]);
    await this.queue.release();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = true;
    try {
      do {
        this.again = false;
        const free = this.opts.concurrency - this.running;
        if (free <= 0) break;
        const claimed = await this.queue.claim(this.opts.queues, free, this.opts.leaseMs);
        for (const job of claimed) this.run(job);
        if (claimed.length === free) this.again = true;
      } while (this.again && !this.stopped);
    } catch (error) {
      this.log.error({ err: error }, 'claiming jobs failed');
    } finally {
      this.claiming = false;
    }
  }

  private run(job: JobRow): void {
    this.running++;
    const heartbeat = setInterval(() => void this.queue.extend(job, this.opts.leaseMs).catch(() => {}), this.opts.leaseMs / 3);
    const p = (async () => {
      const handler = this.handlers[job.queue];
      try {
        const outcome = handler ? await handler(job) : { retryInMs: 60_000, error: `no handler for ${job.queue}` };
        if ('done' in outcome) await this.queue.complete(job);
        else await this.queue.retry(job, outcome.retryInMs, outcome.error);
      } catch (error) {
        this.log.error({ err: error, jobId: job.id, queue: job.queue }, 'job failed');
        await this.queue.retry(job, Math.min(60_000, 1000 * 2 ** job.attempts), String(error)).catch(() => {});
      } finally {
        clearInterval(heartbeat);
        this.running--;
      }
    })().finally(() => {
      this.inflight.delete(p);
      void this.tick();
    });
    this.inflight.add(p);
  }
}
