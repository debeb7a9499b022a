import { sql } from 'drizzle-orm';
import { bigint, check, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { TaskEventSource, TaskEventType, TaskStatus } from '../domain.js';
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
    /**
     * A status change; the outcome of archiving the outputs (the status then stays SUCCEEDED); or a move
     * to the next provider of the task's route (the status stays PENDING).
     */
    type: text('type').$type<TaskEventType>().notNull().default('STATUS_CHANGED'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('task_events_task_idx').on(t.taskId, t.id),
    index('task_events_tenant_idx').on(t.tenantId, t.id),
    check(
      'task_events_type_check',
      sql`${t.type} in ('STATUS_CHANGED', 'OUTPUTS_ARCHIVED', 'OUTPUTS_ARCHIVE_FAILED', 'ROUTED')`,
    ),
  ],
);

export type TaskEventRow = typeof taskEvents.$inferSelect;
