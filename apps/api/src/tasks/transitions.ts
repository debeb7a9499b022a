import {
  isTerminalStatus,
  statusesBefore,
  type Provider,
  type RouteAttempt,
  type RouteStep,
  type TaskEventSource,
  type TaskEventType,
  type TaskStatus,
} from '@clipwire/schema';
import { taskEvents, tasks, tenants, type NewTaskRow, type TaskEventRow, type TaskRow } from '@clipwire/schema/tables';
import { and, eq, getTableColumns, inArray, isNull, sql, type Placeholder, type SQL } from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import type { Database, DbOrTx, Tx } from '../db/client.js';
import { driverValues, fieldPlaceholders, identityOf, prepared, run } from '../db/prepared.js';

const taskColumns = getTableColumns(tasks);
const eventColumns = getTableColumns(taskEvents);

export interface TaskPatch {
  nextPollAt?: Date | null;
  pollDelayMs?: number | null;
  statusMessage?: string | null;
  progress?: number | null;
  providerTaskId?: string | null;
  providerRequest?: Record<string, unknown> | null;
  output?: TaskRow['output'];
  error?: TaskRow['error'];
  cost?: TaskRow['cost'];
  providerUpdatedAt?: Date | null;
  submittedAt?: Date | null;
  completedAt?: Date | null;
}

export interface Transition {
  taskId: string;
  to: TaskStatus;
  source: TaskEventSource;
  message?: string | null;
  patch?: TaskPatch;
}

export interface TransitionResult {
  task: TaskRow;
  event: TaskEventRow;
  /** Whether the change queued jobs (to wake the workers after the commit). */
  queuedJobs: boolean;
}

/**
 * Jobs a change calls for (its webhook, say), queued by the change's own statement: `jobs`, a
 * data-modifying SQL over the CTEs `t` (the task as changed) and `e` (its event) that returns one row
 * per queued job (none when the change calls for none); and `rows`, when given, a data-modifying SQL
 * over `t` and `e` run before it as CTE `w` (returning `id` and `task_id`), which `jobs` may select
 * from (the webhook deliveries whose jobs they are).
 */
export interface ChangeJobs {
  rows?: SQL;
  jobs: SQL;
}

/**
 * Inserts a task, its first event and the jobs they call for; `build` runs first, in the same
 * transaction (to store the task's media with it), and returns the row.
 */
export async function insertTask(
  db: Database,
  build: (tx: Tx) => Promise<NewTaskRow>,
  jobs: ChangeJobs,
  message = 'task created',
): Promise<TransitionResult> {
  return db.transaction(async (tx) => {
    // Prepared per set of fields given, like a transition.
    const fields = Object.fromEntries(
      Object.entries(await build(tx)).filter(([, value]) => value !== undefined && value !== null),
    );
    const names = Object.keys(fields).sort();
    // A task that names no webhook URL takes its tenant's default, read by the insert itself.
    const inherit = fields.webhookUrl === undefined;
    const query = (tx: DbOrTx) => {
      const insert = tx
        .insert(tasks)
        .values({
          ...fieldPlaceholders(names),
          ...(inherit
            ? {
                webhookUrl: sql`(select ${tenants.webhookUrl} from ${tenants} where ${tenants.id} = ${sql.placeholder('tenantId')})`,
              }
            : {}),
        } as PgInsertValue<typeof tasks>)
        .returning();
      return changeQuery(
        tx,
        insert.getSQL(),
        { status: sql`t.status`, source: 'API', message: sql.placeholder('eventMessage') },
        jobs,
      );
    };
    const values = { eventMessage: message, ...driverValues(tasks, fields) };
    const change = changeResult(
      await run(
        tx,
        `task-insert:${identityOf(jobs)}:${names.join(',')}${inherit ? ':inherit-webhook' : ''}`,
        query,
        values,
      ),
    );
    if (!change) throw new Error('task insert returned no row');
    return change;
  });
}

/**
 * Moves a task forward, and only forward: the UPDATE matches only while the task is on a lower
 * rung than `to`, so a replayed, stale or concurrent report updates nothing and writes no event.
 * (On Postgres a concurrent twin blocks on the row lock, then re-checks the WHERE and finds
 * nothing to do.) One statement: the change, its event and its jobs commit together.
 */
export async function transitionTask(db: DbOrTx, t: Transition, jobs: ChangeJobs): Promise<TransitionResult | null> {
  const { query, values } = transitionStatement(db, t, jobs);
  return changeResult(await query.execute(values));
}

/**
 * transitionTask's statement and the values to run it with. The statement is built once per shape (the
 * target status, which fields the change sets) and prepared; the values bind the task, the fields and
 * the event. (The benchmarks run its SQL on the raw driver as their baseline.)
 */
export function transitionStatement(db: DbOrTx, t: Transition, jobs: ChangeJobs) {
  const terminal = isTerminalStatus(t.to);
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(t.patch ?? {})) if (value !== undefined) fields[name] = value;
  fields.statusMessage = t.patch?.statusMessage !== undefined ? t.patch.statusMessage : (t.message ?? null);
  if (terminal) Object.assign(fields, { providerRequest: null, nextPollAt: null });
  const names = Object.keys(fields).sort();
  const completedNow = terminal && fields.completedAt === undefined;
  const key = `transition:${identityOf(jobs)}:${t.to}:${names.join(',')}${completedNow ? ':completed-now' : ''}`;
  const query = prepared(db, key, (name) => {
    const update = db
      .update(tasks)
      .set({
        ...fieldPlaceholders(names),
        status: t.to,
        version: sql`${tasks.version} + 1`,
        updatedAt: sql`now()`,
        ...(completedNow ? { completedAt: sql`now()` } : {}),
      })
      .where(and(eq(tasks.id, sql.placeholder('taskId')), inArray(tasks.status, statusesBefore(t.to))))
      .returning();
    const event = { status: t.to, source: sql.placeholder('eventSource'), message: sql.placeholder('eventMessage') };
    return changeQuery(db, update.getSQL(), event, jobs).prepare(name);
  });
  const values = {
    taskId: t.taskId,
    eventSource: t.source,
    eventMessage: t.message ?? null,
    ...driverValues(tasks, fields),
  };
  return { query, values };
}

/**
 * Replaces a SUCCEEDED task's outputs (archiving them: the status stays), with an event of `type` and
 * the jobs it calls for (its webhook): one statement, like a transition. Null when the task is not
 * SUCCEEDED, or was erased (deleteTask) meanwhile.
 */
export async function outputChange(
  db: DbOrTx,
  change: { taskId: string; output: TaskRow['output']; type: TaskEventType; message: string },
  jobs: ChangeJobs,
): Promise<TransitionResult | null> {
  const update = db
    .update(tasks)
    .set({ output: change.output, version: sql`${tasks.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(tasks.id, change.taskId), eq(tasks.status, 'SUCCEEDED'), isNull(tasks.erasedAt)))
    .returning();
  const event = { status: sql`t.status`, source: 'SYSTEM' as const, message: change.message, type: change.type };
  return changeResult(await changeQuery(db, update.getSQL(), event, jobs));
}

/**
 * Moves a PENDING task from `from` to the next provider on its route (`next`, then `rest`), recording
 * why it left `from` (`attempt`), with a ROUTED event and the jobs it calls for: one statement, like a
 * transition. The attempt's marks are cleared (nothing of it is upstream: the caller proved it). Null
 * when the task is no longer PENDING on `from` (a concurrent change won).
 */
export async function routeChange(
  db: DbOrTx,
  change: {
    taskId: string;
    from: Provider;
    attempt: RouteAttempt;
    next: RouteStep;
    rest: RouteStep[];
    costEstimate: number;
    message: string;
  },
  jobs: ChangeJobs,
): Promise<TransitionResult | null> {
  const update = db
    .update(tasks)
    .set({
      provider: change.next.provider,
      model: change.next.model,
      providerRequest: change.next.request,
      route: change.rest,
      attempts: sql`${tasks.attempts} || ${JSON.stringify([change.attempt])}::jsonb`,
      costEstimate: String(change.costEstimate),
      statusMessage: change.message,
      submitAttempts: 0,
      submitStartedAt: null,
      callbackTokenHash: null,
      nextPollAt: null,
      pollDelayMs: null,
      version: sql`${tasks.version} + 1`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(tasks.id, change.taskId), eq(tasks.status, 'PENDING'), eq(tasks.provider, change.from)))
    .returning();
  const event = { status: sql`t.status`, source: 'SYSTEM' as const, message: change.message, type: 'ROUTED' as const };
  return changeResult(await changeQuery(db, update.getSQL(), event, jobs));
}

/** The columns of a CTE that returns a table's rows, keyed as the table's. */
function columnsOf<C extends Record<string, unknown>>(cte: object, columns: C): { [K in keyof C]: C[K] } {
  return Object.fromEntries(Object.keys(columns).map((key) => [key, (cte as Record<string, unknown>)[key]])) as {
    [K in keyof C]: C[K];
  };
}

/**
 * One statement: `change` (an INSERT or UPDATE … RETURNING * on tasks) as CTE `t`, the tenant feed's
 * lock, the event as CTE `e`, then the jobs; it returns no row when the change matched nothing.
 *
 * Event ids are the feed's cursor, so within a tenant they must become visible in id order: a reader
 * past id N must never later find N-1 committed. The tenant's advisory lock is taken before the event
 * row (and its id) is made, and held to the commit, so id order is commit order per tenant. (PGlite
 * runs one transaction at a time.)
 */
function changeQuery(
  db: DbOrTx,
  change: SQL,
  event: {
    status: TaskStatus | SQL;
    source: TaskEventSource | Placeholder;
    message: string | null | Placeholder;
    type?: TaskEventType;
  },
  jobs: ChangeJobs,
) {
  const t = db.$with('t', taskColumns).as(change);
  const e = db.$with('e', eventColumns).as(
    sql`insert into ${taskEvents} (task_id, tenant_id, status, source, message, type)
      select t.id, t.tenant_id, ${event.status}, ${event.source}, ${event.message}, ${event.type ?? 'STATUS_CHANGED'} from t
        cross join lateral (select pg_advisory_xact_lock(hashtext('clipwire:feed:' || t.tenant_id::text))) feed_lock
      returning *`,
  );
  const w = jobs.rows ? [db.$with('w', { id: sql<string>`id`, taskId: sql<string>`task_id` }).as(jobs.rows)] : [];
  const j = db.$with('j', { queued: sql<boolean>`queued` }).as(jobs.jobs);
  return db
    .with(t, e, ...w, j)
    .select({
      task: columnsOf(t, taskColumns),
      event: columnsOf(e, eventColumns),
      queued: sql<number>`(select count(*) from j)::int`,
    })
    .from(t)
    .innerJoin(e, sql`true`);
}

function changeResult(rows: { task: unknown; event: unknown; queued: number }[]): TransitionResult | null {
  const [row] = rows;
  return row ? { task: row.task as TaskRow, event: row.event as TaskEventRow, queuedJobs: row.queued > 0 } : null;
}
