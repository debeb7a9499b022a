import { UUID_PATTERN } from '@clipwire/schema';
import {
  taskEvents,
  type TaskEventRow,
  webhookDeliveries,
  webhookDeliveryAttempts,
  type WebhookDeliveryAttemptRow,
  type WebhookDeliveryRow,
  type WebhookDeliveryStatus,
} from '@clipwire/schema/tables';
import { and, asc, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import type { AttemptResult } from './send.js';

/** A position in the newest-first delivery log. */
export interface DeliveryCursor {
  createdAt: Date;
  id: string;
}

export function encodeDeliveryCursor(d: Pick<WebhookDeliveryRow, 'createdAt' | 'id'>): string {
  return Buffer.from(`${d.createdAt.getTime()}:${d.id}`).toString('base64url');
}

const DELIVERY_CURSOR = new RegExp(`^(\\d{1,13}):(${UUID_PATTERN})$`);

export function decodeDeliveryCursor(cursor: string): DeliveryCursor | null {
  const match = DELIVERY_CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  return match ? { createdAt: new Date(Number(match[1])), id: match[2]! } : null;
}

export interface DeliveryFilter {
  taskId?: string;
  status?: WebhookDeliveryStatus;
}

/** Keyset page over (created_at, id), newest first; `inverted` walks it backwards (the caller reverses). */
export async function listDeliveries(
  db: DbOrTx,
  tenantId: string,
  opts: { after?: DeliveryCursor; before?: DeliveryCursor; limit: number; inverted: boolean; filter: DeliveryFilter },
): Promise<WebhookDeliveryRow[]> {
  const conditions: SQL[] = [eq(webhookDeliveries.tenantId, tenantId)];
  if (opts.filter.taskId) conditions.push(eq(webhookDeliveries.taskId, opts.filter.taskId));
  if (opts.filter.status) conditions.push(eq(webhookDeliveries.status, opts.filter.status));
  if (opts.after)
    conditions.push(
      sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (${opts.after.createdAt.toISOString()}::timestamptz, ${opts.after.id}::uuid)`,
    );
  if (opts.before)
    conditions.push(
      sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) > (${opts.before.createdAt.toISOString()}::timestamptz, ${opts.before.id}::uuid)`,
    );
  const order = opts.inverted
    ? [asc(webhookDeliveries.createdAt), asc(webhookDeliveries.id)]
    : [desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)];
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(...order)
    .limit(opts.limit);
}

/** One of the tenant's deliveries; another tenant's id answers null, like an unknown one. */
export async function findDelivery(db: DbOrTx, tenantId: string, id: string): Promise<WebhookDeliveryRow | null> {
  const [row] = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.tenantId, tenantId)));
  return row ?? null;
}

/** The tenant's events of these ids, in the order of the ids (null for one not found). */
export async function eventsByIds(db: DbOrTx, tenantId: string, ids: readonly number[]) {
  const rows: TaskEventRow[] =
    ids.length === 0
      ? []
      : await db
          .select()
          .from(taskEvents)
          .where(and(eq(taskEvents.tenantId, tenantId), inArray(taskEvents.id, [...new Set(ids)])));
  const byId = new Map(rows.map((e) => [e.id, e]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** The attempts of these deliveries, oldest first, by delivery id. */
export async function attemptsOf(db: DbOrTx, deliveryIds: readonly string[]) {
  const rows =
    deliveryIds.length === 0
      ? []
      : await db
          .select()
          .from(webhookDeliveryAttempts)
          .where(inArray(webhookDeliveryAttempts.deliveryId, [...deliveryIds]))
          .orderBy(asc(webhookDeliveryAttempts.id));
  const byDelivery = new Map<string, WebhookDeliveryAttemptRow[]>();
  for (const row of rows) byDelivery.set(row.deliveryId, [...(byDelivery.get(row.deliveryId) ?? []), row]);
  return deliveryIds.map((id) => byDelivery.get(id) ?? []);
}

/**
 * An attempt and where it leaves its delivery, inside the caller's transaction (the one that also
 * ends or reschedules the delivery's job).
 */
export async function recordAttempt(
  tx: DbOrTx,
  delivery: Pick<WebhookDeliveryRow, 'id' | 'tenantId'>,
  attempt: AttemptResult,
  next: { status: WebhookDeliveryStatus; nextAttemptAt: Date | null },
): Promise<void> {
  await tx.insert(webhookDeliveryAttempts).values({
    deliveryId: delivery.id,
    tenantId: delivery.tenantId,
    attemptedAt: attempt.attemptedAt,
    httpStatus: attempt.httpStatus,
    durationMs: attempt.durationMs,
    responseExcerpt: attempt.responseExcerpt,
    error: attempt.error,
  });
  await tx
    .update(webhookDeliveries)
    .set({
      status: next.status,
      nextAttemptAt: next.nextAttemptAt,
      attemptCount: sql`${webhookDeliveries.attemptCount} + 1`,
      updatedAt: sql`now()`,
    })
    .where(eq(webhookDeliveries.id, delivery.id));
}

/** Deletes the deliveries (and their attempts) made before `cutoff` that are finished; returns how many. */
export async function deleteDeliveriesBefore(db: DbOrTx, cutoff: Date): Promise<number> {
  const deleted = await db
    .delete(webhookDeliveries)
    .where(and(lt(webhookDeliveries.createdAt, cutoff), inArray(webhookDeliveries.status, ['DELIVERED', 'FAILED'])))
    .returning({ id: webhookDeliveries.id });
  return deleted.length;
}
