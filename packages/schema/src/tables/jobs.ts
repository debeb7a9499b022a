import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const JOB_QUEUES = ['submit', 'refresh', 'webhook', 'maintenance', 'archive', 'retention'] as const;
export type JobQueue = (typeof JOB_QUEUES)[number];

/**
 * Durable work, shared by any number of processes: a worker claims due rows with
 * FOR UPDATE SKIP LOCKED and holds them under a lease; a job whose worker died is claimed again
 * when its lease runs out. Jobs are inserted in the same transaction as the change that needs them.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    queue: text('queue').$type<JobQueue>().notNull(),
    /** At most one unfinished job per key (e.g. one submission per task). */
    dedupeKey: text('dedupe_key'),
    /** Jobs of one group run one at a time, in id order (e.g. the webhooks of one task). */
    groupKey: text('group_key'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    runAt: timestamp('run_at', { withTimezone: true }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    lockedBy: text('locked_by'),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('jobs_due_idx').on(t.queue, t.runAt),
    uniqueIndex('jobs_dedupe_idx').on(t.dedupeKey),
    index('jobs_group_idx').on(t.groupKey, t.id).where(sql`${t.groupKey} is not null`),
  ],
);

export type JobRow = typeof jobs.$inferSelect;
