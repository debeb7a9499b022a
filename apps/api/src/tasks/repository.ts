import {
  UUID_PATTERN,
  isTerminalStatus,
  statusesBefore,
  type Provider,
  type TaskEventSource,
  type TaskKind,
  type TaskStatus,
} from '@clipwire/schema';
import {
  taskEvents,
  tasks,
  tenants,
  type NewTaskRow,
  type TaskEventRow,
  type TaskRow,
  type TenantRow,
} from '@clipwire/schema/tables';
import {
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  gt,
  inArray,
  lt,
  lte,
  or,
  sql,
  type Placeholder,
  type SQL,
} from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import type { Database, DbOrTx, Tx } from '../db/client.js';
import {
  driverValues,
  fieldPlaceholders,
  identityOf,
  listPlaceholders,
  listValues,
  prepared,
  run,
} from '../db/prepared.js';

const taskColumns = getTableColumns(tasks);
const eventColumns = getTableColumns(taskEvents);

export type TaskLookup = { id: string } | { externalTaskId: string };

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
 * Jobs a change calls for (its webhook, say), queued by the change's own statement: a data-modifying
 * SQL over the CTEs `t` (the task as changed) and `e` (its event) that returns one row per queued
 * job (none when the change calls for none).
 */
export type ChangeJobs = SQL;

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
  event: { status: TaskStatus | SQL; source: TaskEventSource | Placeholder; message: string | null | Placeholder },
  jobs: ChangeJobs,
) {
  const t = db.$with('t', taskColumns).as(change);
  const e = db.$with('e', eventColumns).as(
    sql`insert into ${taskEvents} (task_id, tenant_id, status, source, message)
      select t.id, t.tenant_id, ${event.status}, ${event.source}, ${event.message} from t
        cross join lateral (select pg_advisory_xact_lock(hashtext('clipwire:feed:' || t.tenant_id::text))) feed_lock
      returning *`,
  );
  const j = db.$with('j', { queued: sql<boolean>`queued` }).as(jobs);
  return db
    .with(t, e, j)
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

export async function findTask(db: DbOrTx, tenantId: string, lookup: TaskLookup): Promise<TaskRow | null> {
  const [by, match] =
    'id' in lookup ? (['id', lookup.id] as const) : (['externalTaskId', lookup.externalTaskId] as const);
  const [task] = await run(
    db,
    `tenant-task-by-${by}`,
    (db) =>
      db
        .select()
        .from(tasks)
        .where(and(eq(tasks.tenantId, sql.placeholder('tenantId')), eq(tasks[by], sql.placeholder('match'))))
        .limit(1),
    { tenantId, match },
  );
  return task ?? null;
}

export async function findTasksByIds(db: DbOrTx, tenantId: string, ids: readonly string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(tasks)
    .where(and(eq(tasks.tenantId, tenantId), inArray(tasks.id, [...ids])));
}

export async function findTenant(db: DbOrTx, tenantId: string): Promise<TenantRow | null> {
  const [tenant] = await run(
    db,
    'tenant-by-id',
    (db) =>
      db
        .select()
        .from(tenants)
        .where(eq(tenants.id, sql.placeholder('id')))
        .limit(1),
    { id: tenantId },
  );
  return tenant ?? null;
}

export async function findTaskById(db: DbOrTx, taskId: string): Promise<TaskRow | null> {
  const [task] = await run(
    db,
    'task-by-id',
    (db) =>
      db
        .select()
        .from(tasks)
        .where(eq(tasks.id, sql.placeholder('id')))
        .limit(1),
    { id: taskId },
  );
  return task ?? null;
}

/** What a callback needs of its task. */
export type CallbackTask = Pick<TaskRow, 'id' | 'tenantId' | 'provider' | 'kind' | 'status' | 'providerTaskId'>;

/** The task a callback token belongs to (prepared: every callback runs it). */
export async function findTaskByCallbackTokenHash(db: Database, hash: string): Promise<CallbackTask | null> {
  const [task] = await run(
    db,
    'task-by-callback-token',
    (db) =>
      db
        .select({
          id: tasks.id,
          tenantId: tasks.tenantId,
          provider: tasks.provider,
          kind: tasks.kind,
          status: tasks.status,
          providerTaskId: tasks.providerTaskId,
        })
        .from(tasks)
        .where(eq(tasks.callbackTokenHash, sql.placeholder('hash')))
        .limit(1),
    { hash },
  );
  return task ?? null;
}

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

export async function countTasksByStatus(db: DbOrTx): Promise<{ status: string; provider: string; n: number }[]> {
  return db
    .select({ status: tasks.status, provider: tasks.provider, n: sql<number>`count(*)::int` })
    .from(tasks)
    .groupBy(tasks.status, tasks.provider);
}

/** Tasks of a provider holding a slot: sent (or being sent) upstream and not final. */
export async function countInFlight(db: DbOrTx, provider: Provider): Promise<number> {
  const [row] = await run(
    db,
    'tasks-in-flight',
    (db) =>
      db
        .select({ n: sql<number>`count(*)::int` })
        .from(tasks)
        .where(
          and(
            eq(tasks.provider, sql.placeholder('provider')),
            or(
              inArray(tasks.status, ['SUBMITTED', 'PROCESSING']),
              and(eq(tasks.status, 'PENDING'), sql`${tasks.submitStartedAt} is not null`),
            ),
          ),
        ),
    { provider },
  );
  return row?.n ?? 0;
}

/**
 * Creates that reached a provider since `since` (rate windows). The provider counts a create when it
 * arrives, somewhere between our send (submit_started_at) and its answer (submitted_at): an answered
 * create counts from its answer, one still in flight from its send. Counting answered ones from the send
 * would free their slot early whenever a request took longer to arrive than the margin.
 */
export async function countSubmitsSince(db: DbOrTx, provider: Provider, since: Date): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(tasks)
    .where(
      and(
        eq(tasks.provider, provider),
        sql`coalesce(${tasks.submittedAt}, ${tasks.submitStartedAt}) > ${since.toISOString()}`,
      ),
    );
  return row?.n ?? 0;
}

/** A position in the newest-first task order. */
export interface TaskCursor {
  createdAt: Date;
  id: string;
}

export function encodeTaskCursor(task: Pick<TaskRow, 'createdAt' | 'id'>): string {
  return Buffer.from(`${task.createdAt.getTime()}:${task.id}`).toString('base64url');
}

// Milliseconds up to 13 digits (the year 2286) and a well-formed UUID: anything else would reach
// PostgreSQL's ::timestamptz / ::uuid casts and fail there instead of here.
const TASK_CURSOR = new RegExp(`^(\\d{1,13}):(${UUID_PATTERN})$`);

export function decodeTaskCursor(cursor: string): TaskCursor | null {
  const raw = Buffer.from(cursor, 'base64url').toString();
  const match = TASK_CURSOR.exec(raw);
  if (!match) return null;
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}

export interface TaskFilter {
  statuses?: TaskStatus[] | null;
  kinds?: TaskKind[] | null;
  providers?: Provider[] | null;
}

/**
 * Keyset page over (created_at, id), newest first. `before`/`after` are positions in that order;
 * `inverted` walks it backwards (for `last`) and the caller reverses the rows. Prepared per shape
 * (which bounds, which direction, how many values each filter has).
 */
export async function listTasks(
  db: DbOrTx,
  tenantId: string,
  opts: { after?: TaskCursor; before?: TaskCursor; limit: number; inverted: boolean; filter?: TaskFilter },
): Promise<TaskRow[]> {
  const { after, before, inverted } = opts;
  const filter = filterShape(opts.filter);
  const key = `tasks-page:${after ? 'a' : ''}${before ? 'b' : ''}${inverted ? 'i' : ''}:${filter.key}`;
  const values: Record<string, unknown> = { tenantId, limit: opts.limit, ...filter.values };
  if (after) Object.assign(values, { afterAt: after.createdAt.toISOString(), afterId: after.id });
  if (before) Object.assign(values, { beforeAt: before.createdAt.toISOString(), beforeId: before.id });
  return run(
    db,
    key,
    (db) => {
      const conditions: SQL[] = [eq(tasks.tenantId, sql.placeholder('tenantId')), ...filter.conditions()];
      // "After" in newest-first order means older: a smaller (created_at, id). Row comparisons, so the
      // planner seeks straight into the (tenant_id, created_at, id) index: page 10,000 costs what page 1
      // does. (The equivalent OR of two conditions made it scan from the start.)
      if (after)
        conditions.push(
          sql`(${tasks.createdAt}, ${tasks.id}) < (${sql.placeholder('afterAt')}::timestamptz, ${sql.placeholder('afterId')}::uuid)`,
        );
      if (before)
        conditions.push(
          sql`(${tasks.createdAt}, ${tasks.id}) > (${sql.placeholder('beforeAt')}::timestamptz, ${sql.placeholder('beforeId')}::uuid)`,
        );
      return db
        .select()
        .from(tasks)
        .where(and(...conditions))
        .orderBy(...(inverted ? [asc(tasks.createdAt), asc(tasks.id)] : [desc(tasks.createdAt), desc(tasks.id)]))
        .limit(sql.placeholder('limit'));
    },
    values,
  );
}

export async function countTasks(db: DbOrTx, tenantId: string, filter?: TaskFilter): Promise<number> {
  const shape = filterShape(filter);
  const [row] = await run(
    db,
    `tasks-count:${shape.key}`,
    (db) =>
      db
        .select({ n: sql<number>`count(*)::int` })
        .from(tasks)
        .where(and(eq(tasks.tenantId, sql.placeholder('tenantId')), ...shape.conditions())),
    { tenantId, ...shape.values },
  );
  return row?.n ?? 0;
}

/**
 * A filter as placeholders: the key of its shape (how many values each list has), the values to bind,
 * and its conditions (built only when a statement of that shape is).
 */
function filterShape(filter?: TaskFilter): { key: string; values: Record<string, unknown>; conditions(): SQL[] } {
  const lists = [
    { name: 'status', column: tasks.status, list: filter?.statuses ?? [] },
    { name: 'kind', column: tasks.kind, list: filter?.kinds ?? [] },
    { name: 'provider', column: tasks.provider, list: filter?.providers ?? [] },
  ].filter(({ list }) => list.length > 0);
  return {
    key: lists.map(({ name, list }) => `${name}${list.length}`).join(','),
    values: Object.assign({}, ...lists.map(({ name, list }) => listValues(name, list))),
    conditions: () => lists.map(({ name, column, list }) => inArray(column, listPlaceholders(name, list.length))),
  };
}

/** Keyset page over a task's events, oldest first; `inverted` walks newest first (for `last`). */
export async function listTaskEvents(
  db: DbOrTx,
  taskId: string,
  opts: { afterId?: number; beforeId?: number; limit: number; inverted: boolean },
): Promise<TaskEventRow[]> {
  const conditions: SQL[] = [eq(taskEvents.taskId, taskId)];
  if (opts.afterId !== undefined) conditions.push(gt(taskEvents.id, opts.afterId));
  if (opts.beforeId !== undefined) conditions.push(lt(taskEvents.id, opts.beforeId));
  return db
    .select()
    .from(taskEvents)
    .where(and(...conditions))
    .orderBy(opts.inverted ? desc(taskEvents.id) : asc(taskEvents.id))
    .limit(opts.limit);
}

export interface EventFilter {
  statuses?: TaskStatus[] | null;
  kinds?: TaskKind[] | null;
  providers?: Provider[] | null;
}

/** The tenant's feed after a cursor, oldest first, filtered by the event's status and its task's kind and provider. */
export async function listTenantEvents(
  db: DbOrTx,
  tenantId: string,
  afterId: number,
  limit: number,
  filter?: EventFilter,
): Promise<TaskEventRow[]> {
  const conditions: SQL[] = [eq(taskEvents.tenantId, tenantId), gt(taskEvents.id, afterId)];
  if (filter?.statuses?.length) conditions.push(inArray(taskEvents.status, filter.statuses));
  const needsTask = Boolean(filter?.kinds?.length || filter?.providers?.length);
  if (filter?.kinds?.length) conditions.push(inArray(tasks.kind, filter.kinds));
  if (filter?.providers?.length) conditions.push(inArray(tasks.provider, filter.providers));
  const base = db.select({ event: taskEvents }).from(taskEvents);
  const query = needsTask ? base.innerJoin(tasks, eq(tasks.id, taskEvents.taskId)) : base;
  const rows = await query
    .where(and(...conditions))
    .orderBy(asc(taskEvents.id))
    .limit(limit);
  return rows.map((r) => r.event);
}

/** The newest event id of a tenant (0 when none). */
export async function latestTenantEventId(db: DbOrTx, tenantId: string): Promise<number> {
  const [row] = await db
    .select({ id: sql<number>`coalesce(max(${taskEvents.id}), 0)` })
    .from(taskEvents)
    .where(eq(taskEvents.tenantId, tenantId));
  return Number(row?.id ?? 0);
}

export async function findTaskEvent(db: DbOrTx, tenantId: string, id: number): Promise<TaskEventRow | null> {
  const [event] = await db
    .select()
    .from(taskEvents)
    .where(and(eq(taskEvents.tenantId, tenantId), eq(taskEvents.id, id)))
    .limit(1);
  return event ?? null;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const {
      code,
      constraint_name,
      constraint: c,
    } = e as { code?: unknown; constraint_name?: unknown; constraint?: unknown };
    if (code === '23505') return constraint === undefined || constraint_name === constraint || c === constraint;
  }
  return false;
}
