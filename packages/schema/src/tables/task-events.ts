import { bigint, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { TaskEventSource, TaskStatus } from '../domain.js';
import { tasks } from './tasks.js';
import { tenants } from './tenants.js';

/**
 * One row per status change, written in the same transaction as the change. The identity id is
 * monotonic, so it doubles as the cursor of every event feed.
 */
export const taskEvents = pgTable(
  'task_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    status: text('status').$type<TaskStatus>().notNull(),
    message: text('message'),
    source: text('source').$type<TaskEventSource>().notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('task_events_task_idx').on(t.taskId, t.id), index('task_events_tenant_idx').on(t.tenantId, t.id)],
);

export type TaskEventRow = typeof taskEvents.$inferSelect;
