import { tasks, tenants, type TaskRow, type TenantRow } from '@clipwire/schema/tables';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Database, DbOrTx } from '../db/client.js';
import { run } from '../db/prepared.js';

export type TaskLookup = { id: string } | { externalTaskId: string };

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

export async function countTasksByStatus(db: DbOrTx): Promise<{ status: string; provider: string; n: number }[]> {
  return db
    .select({ status: tasks.status, provider: tasks.provider, n: sql<number>`count(*)::int` })
    .from(tasks)
    .groupBy(tasks.status, tasks.provider);
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
