import { bigint, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { taskEvents } from './task-events.js';
import { tasks } from './tasks.js';
import { tenants } from './tenants.js';

/** PENDING: not tried yet; RETRYING: the last attempt failed, another is due at `nextAttemptAt`; FAILED: given up. */
export const WEBHOOK_DELIVERY_STATUSES = ['PENDING', 'RETRYING', 'DELIVERED', 'FAILED'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * One delivery of one task event to one URL: queued with the event (same statement), or by a
 * redelivery. Its attempts are in webhook_delivery_attempts; both are deleted after the retention.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    eventId: bigint('event_id', { mode: 'number' })
      .notNull()
      .references(() => taskEvents.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    status: text('status').$type<WebhookDeliveryStatus>().notNull().default('PENDING'),
    attemptCount: integer('attempt_count').notNull().default(0),
    /** When the next retry is due (RETRYING only). */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    /** The delivery this one repeats (redeliverWebhook). */
    redeliveryOf: uuid('redelivery_of'),
    /** Millisecond precision: with `id`, the keyset cursor of the delivery log (a JS Date holds it exactly). */
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('webhook_deliveries_tenant_idx').on(t.tenantId, t.createdAt, t.id),
    index('webhook_deliveries_task_idx').on(t.taskId, t.createdAt),
    index('webhook_deliveries_created_idx').on(t.createdAt),
  ],
);

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
