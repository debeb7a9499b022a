import type { Provider, TaskKind, TaskStatus } from '@clipwire/schema';
import { taskEvents, tasks, type TaskEventRow } from '@clipwire/schema/tables';
import { and, asc, desc, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';

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
