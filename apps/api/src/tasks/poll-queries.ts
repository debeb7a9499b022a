import type { Provider } from '@clipwire/schema';
import { tasks, type TaskRow } from '@clipwire/schema/tables';
import { and, asc, eq, inArray, lte, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { run } from '../db/prepared.js';

/**
 * Claims the running tasks whose next poll is due, pushing their next poll out by their doubled
 * backoff in the same statement (SKIP LOCKED: each due task goes to one poller, whatever the
 * number of processes).
 */
export async function claimDuePolls(db: DbOrTx, limit: number, maxDelayMs: number): Promise<TaskRow[]> {
  const due = db
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(inArray(tasks.status, ['SUBMITTED', 'PROCESSING']), lte(tasks.nextPollAt, sql`now()`)))
    .orderBy(asc(tasks.nextPollAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  const nextDelay = sql`least(coalesce(${tasks.pollDelayMs}, 1000) * 2, ${maxDelayMs})`;
  return db
    .update(tasks)
    .set({ pollDelayMs: nextDelay, nextPollAt: sql`now() + ${nextDelay} * interval '1 millisecond'` })
    .where(inArray(tasks.id, due))
    .returning();
}

/** Tasks not final although created before their provider's deadline: past it. */
export async function findOverdueTasks(
  db: DbOrTx,
  deadlineMs: Record<Provider, number>,
  limit: number,
): Promise<TaskRow[]> {
  const providers = Object.keys(deadlineMs) as Provider[];
  return run(
    db,
    `tasks-overdue:${providers.join(',')}`,
    (db) =>
      db
        .select()
        .from(tasks)
        .where(
          and(
            inArray(tasks.status, ['PENDING', 'SUBMITTED', 'PROCESSING']),
            or(
              ...providers.map((p) =>
                and(
                  eq(tasks.provider, p),
                  sql`${tasks.createdAt} < now() - ${sql.placeholder(`deadline${p}`)} * interval '1 millisecond'`,
                ),
              ),
            ),
          ),
        )
        .limit(sql.placeholder('limit')),
    { limit, ...Object.fromEntries(providers.map((p) => [`deadline${p}`, deadlineMs[p]])) },
  );
}

/** When the poller next has work: the earliest planned poll of a running task, or the earliest deadline of one not final. */
export async function nextPollDue(db: DbOrTx, deadlineMs: Record<Provider, number>): Promise<Date | null> {
  const providers = Object.keys(deadlineMs) as Provider[];
  const deadline = sql.join(
    providers.map((p) => sql`when ${p} then ${sql.placeholder(`deadline${p}`)}::bigint`),
    sql` `,
  );
  const [row] = await run(
    db,
    `tasks-next-poll:${providers.join(',')}`,
    (db) =>
      db
        .select({
          at: sql<string | null>`least(
            (select min(${tasks.nextPollAt}) from ${tasks} where ${tasks.status} in ('SUBMITTED', 'PROCESSING')),
            (select min(${tasks.createdAt} + (case ${tasks.provider} ${deadline} end) * interval '1 millisecond')
               from ${tasks} where ${tasks.status} in ('PENDING', 'SUBMITTED', 'PROCESSING')))`,
        })
        .from(sql`(select 1) as one`),
    Object.fromEntries(providers.map((p) => [`deadline${p}`, deadlineMs[p]])),
  );
  return row?.at ? new Date(row.at) : null;
}
