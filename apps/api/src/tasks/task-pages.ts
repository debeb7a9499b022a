import { UUID_PATTERN, type Provider, type TaskKind, type TaskStatus } from '@clipwire/schema';
import { tasks, type TaskRow } from '@clipwire/schema/tables';
import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { listPlaceholders, listValues, run } from '../db/prepared.js';

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
  /** Created at or after this instant. */
  createdFrom?: Date | null;
  /** Created before this instant. */
  createdTo?: Date | null;
  /** The client's externalTaskId starts with this (case-sensitive). */
  externalTaskIdPrefix?: string | null;
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
  const scalars = [
    {
      name: 'createdFrom',
      value: filter?.createdFrom?.toISOString(),
      condition: () => sql`${tasks.createdAt} >= ${sql.placeholder('createdFrom')}::timestamptz`,
    },
    {
      name: 'createdTo',
      value: filter?.createdTo?.toISOString(),
      condition: () => sql`${tasks.createdAt} < ${sql.placeholder('createdTo')}::timestamptz`,
    },
    {
      name: 'externalPrefix',
      value: filter?.externalTaskIdPrefix || undefined,
      // starts_with, not LIKE: the prefix is taken literally (no % or _ wildcards to escape).
      condition: () => sql`starts_with(${tasks.externalTaskId}, ${sql.placeholder('externalPrefix')}::text)`,
    },
  ].filter(({ value }) => value !== undefined);
  return {
    key: [...lists.map(({ name, list }) => `${name}${list.length}`), ...scalars.map(({ name }) => name)].join(','),
    values: Object.assign(
      {},
      ...lists.map(({ name, list }) => listValues(name, list)),
      ...scalars.map(({ name, value }) => ({ [name]: value })),
    ),
    conditions: () => [
      ...lists.map(({ name, column, list }) => inArray(column, listPlaceholders(name, list.length))),
      ...scalars.map(({ condition }) => condition()),
    ],
  };
}
