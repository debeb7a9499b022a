import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { JOB_QUEUES, jobs, type JobQueue as QueueName, type JobRow } from '@clipwire/schema/tables';
import { and, asc, eq, inArray, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import type { Database, DbOrTx, Tx } from '../db/client.js';
import { driverValues, fieldPlaceholders, listPlaceholders, listValues, run } from '../db/prepared.js';

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

/** Jobs a change queues by a SELECT over its CTEs: see JobQueue.insertSelect. */
export interface JobSelect {
  queue: QueueName;
  payload: SQL;
  groupKey: SQL | null;
  from: SQL;
}

/** Not leased, or its lease ran out. */
const free = () => or(isNull(jobs.lockedUntil), lt(jobs.lockedUntil, sql`now()`));
/** Not waiting behind an earlier job of its group. */
const notBehindItsGroup = () =>
  or(
    isNull(jobs.groupKey),
    sql`not exists (select 1 from jobs e where e.group_key = ${jobs.groupKey} and e.id < ${jobs.id})`,
  );

/** The NOTIFY channel that wakes other processes' workers when jobs are queued. */
export const JOBS_CHANNEL = 'clipwire_jobs';

/**
 * How a job ended: done (the worker deletes it), done with the job already deleted by the handler in
 * the transaction of its own change (`completeIn`), or to be run again later (`rescheduled`: the
 * handler already did so in its own transaction, `retryIn`).
 */
export type JobOutcome = { done: true; completed?: true } | { retryInMs: number; error: string; rescheduled?: true };
/** Runs a claimed job; `context` is what the queue's ClaimStep prepared for it, if it has one. */
export type JobHandler = (job: JobRow, context?: unknown) => Promise<JobOutcome>;
/**
 * Work done on a claimed job inside the claim's own transaction (reading what the job needs, taking a
 * slot): either an outcome settled right there (the job is finished or put back in the same commit),
 * or a context handed to the handler.
 */
export type ClaimStep = (tx: Tx, job: JobRow) => Promise<{ settle: JobOutcome } | { context: unknown }>;

/** What one claim returns: the jobs to run, whether it took all it asked for, and else when the next job falls due (null: none queued). */
export interface Claim {
  jobs: { job: JobRow; context?: unknown }[];
  full: boolean;
  nextDueAt: Date | null;
}

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
    const rows = list.map((j) => ({
      queue: j.queue,
      payload: j.payload,
      dedupeKey: j.dedupeKey ?? null,
      groupKey: j.groupKey ?? null,
      runAt: j.runAt ?? new Date(),
    }));
    // One statement per number of jobs; a job the dedupe key turns away was queued (and notified) before.
    await run(
      tx,
      `jobs-insert:${list.length}:${this.notify}`,
      (db) =>
        db
          .insert(jobs)
          .values(rows.map((row, i) => fieldPlaceholders(Object.keys(row), i) as PgInsertValue<typeof jobs>))
          .onConflictDoNothing({ target: jobs.dedupeKey })
          .returning({ queued: this.queuedSql(sql`${jobs.queue}`) }),
      Object.assign({}, ...rows.map((row, i) => driverValues(jobs, row, i))),
    );
  }

  /**
   * A data-modifying SQL that queues, for each spec, a `queue` job per row of its `from` (one INSERT:
   * a CTE may hold only one), for a CTE of a larger statement (a change and the jobs it calls for,
   * written at once). Returns a row per job, and notifies the
   * other processes like `enqueue` (NOTIFY is delivered at commit, once per transaction); call
   * `nudge` after it commits.
   */
  insertSelect(specs: readonly JobSelect[]): SQL {
    const selects = sql.join(
      specs.map((s) => sql`select ${s.queue}::text, ${s.payload}, ${s.groupKey}::text from ${s.from}`),
      sql` union all `,
    );
    return sql`insert into ${jobs} (queue, payload, group_key)
      ${selects}
      returning ${this.queuedSql(sql`${jobs.queue}`)} as queued`;
  }

  /**
   * `true` per job written, notifying the other processes' workers of its queue (NOTIFY is sent at
   * commit, once per distinct payload and transaction). The payload names this process, whose own
   * workers are nudged directly (see `onNotify`).
   */
  private queuedSql(queue: SQL): SQL<boolean> {
    return this.notify
      ? sql<boolean>`pg_notify(${JOBS_CHANNEL}, ${`${this.workerId}:`} || ${queue}) is not null`
      : sql<boolean>`true`;
  }

  /** A NOTIFY on JOBS_CHANNEL: wakes this process's workers of that queue, unless this process sent it. */
  onNotify(payload: string): void {
    const at = payload.lastIndexOf(':');
    if (at < 0) {
      this.nudge();
      return;
    }
    if (payload.slice(0, at) === this.workerId) return;
    const queue = payload.slice(at + 1);
    this.nudge((JOB_QUEUES as readonly string[]).includes(queue) ? [queue as QueueName] : undefined);
  }

  /** Wakes this process's workers of these queues (all when none are named) now instead of at their next poll. */
  nudge(queues?: readonly QueueName[]): void {
    this.events.emit('nudge', queues);
  }

  /**
   * Claims up to `limit` due jobs under a lease, in one transaction with each job's ClaimStep (so that a
   * submission's claim, its slot and its attempt commit together), and, when fewer than `limit` were
   * due, reads when the next one falls due (the worker sleeps until then instead of polling). A group's
   * later jobs wait while an earlier one is unfinished. The dedupe key is released on claim, so a
   * notification arriving while the job runs queues another run instead of being lost.
   */
  async claim(
    queues: readonly QueueName[],
    limit: number,
    leaseMs: number,
    steps: Partial<Record<QueueName, ClaimStep>> = {},
  ): Promise<Claim> {
    return this.db.transaction(async (tx) => {
      const claimed = await run(
        tx,
        `jobs-claim:${queues.length}`,
        (db) =>
          db
            .update(jobs)
            .set({
              lockedBy: sql`${sql.placeholder('workerId')}`,
              lockedUntil: sql`now() + ${sql.placeholder('leaseMs')} * interval '1 millisecond'`,
              attempts: sql`${jobs.attempts} + 1`,
              dedupeKey: null,
            })
            .where(
              inArray(
                jobs.id,
                db
                  .select({ id: jobs.id })
                  .from(jobs)
                  .where(
                    and(
                      inArray(jobs.queue, listPlaceholders('queue', queues.length)),
                      lte(jobs.runAt, sql`now()`),
                      free(),
                      notBehindItsGroup(),
                    ),
                  )
                  .orderBy(asc(jobs.runAt), asc(jobs.id))
                  .limit(sql.placeholder('limit'))
                  .for('update', { skipLocked: true }),
              ),
            )
            .returning(),
        { workerId: this.workerId, limit, leaseMs, ...listValues('queue', queues) },
      );
      const ready: Claim['jobs'] = [];
      for (const job of claimed) {
        const step = steps[job.queue];
        if (!step) {
          ready.push({ job });
          continue;
        }
        const prepared = await step(tx, job);
        if ('context' in prepared) ready.push({ job, context: prepared.context });
        else if ('done' in prepared.settle) await this.completeIn(tx, job);
        else await this.retryIn(tx, job, prepared.settle.retryInMs, prepared.settle.error);
      }
      const full = claimed.length === limit;
      return { jobs: ready, full, nextDueAt: full ? null : await this.nextDue(tx, queues) };
    });
  }

  /** When the next job of these queues can be claimed: its run time, or the end of a lease another worker holds. */
  private async nextDue(tx: Tx, queues: readonly QueueName[]): Promise<Date | null> {
    const [row] = await run(
      tx,
      `jobs-next-due:${queues.length}`,
      (db) =>
        db
          .select({
            at: sql<string | null>`min(greatest(${jobs.runAt}, coalesce(${jobs.lockedUntil}, ${jobs.runAt})))`,
          })
          .from(jobs)
          .where(and(inArray(jobs.queue, listPlaceholders('queue', queues.length)), notBehindItsGroup())),
      listValues('queue', queues),
    );
    return row?.at ? new Date(row.at) : null;
  }

  async extend(job: JobRow, leaseMs: number): Promise<void> {
    await this.db
      .update(jobs)
      .set({ lockedUntil: sql`now() + ${leaseMs} * interval '1 millisecond'` })
      .where(and(eq(jobs.id, job.id), eq(jobs.lockedBy, this.workerId)));
  }

  async complete(job: JobRow): Promise<void> {
    await this.completeIn(this.db, job);
  }

  /** Deletes a finished job inside the caller's transaction (the change it made, and its end, commit together). */
  async completeIn(tx: DbOrTx, job: JobRow): Promise<void> {
    await run(
      tx,
      'jobs-complete',
      (db) =>
        db.delete(jobs).where(and(eq(jobs.id, sql.placeholder('id')), eq(jobs.lockedBy, sql.placeholder('workerId')))),
      { id: job.id, workerId: this.workerId },
    );
  }

  async retry(job: JobRow, delayMs: number, error: string): Promise<void> {
    await this.retryIn(this.db, job, delayMs, error);
  }

  /** Puts a job back for later inside the caller's transaction (with the change that calls for the retry). */
  async retryIn(tx: DbOrTx, job: JobRow, delayMs: number, error: string): Promise<void> {
    await tx
      .update(jobs)
      .set({
        runAt: sql`now() + ${Math.round(delayMs)} * interval '1 millisecond'`,
        lockedBy: null,
        lockedUntil: null,
        lastError: error.slice(0, 2000),
      })
      .where(and(eq(jobs.id, job.id), eq(jobs.lockedBy, this.workerId)));
  }

  /** Hands back the jobs of these queues (all if none named) held here or by a dead incarnation: a pool names its own. */
  async release(queues?: readonly QueueName[], workerId = this.workerId): Promise<number> {
    const released = await this.db
      .update(jobs)
      .set({ lockedBy: null, lockedUntil: null })
      .where(and(eq(jobs.lockedBy, workerId), queues ? inArray(jobs.queue, [...queues]) : undefined))
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
