import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type {
  Provider,
  RouteAttempt,
  RouteStep,
  TaskCostInfo,
  TaskErrorInfo,
  TaskKind,
  TaskOutput,
  TaskStatus,
} from '../domain.js';
import { tenants } from './tenants.js';

export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<TaskKind>().notNull(),
    provider: text('provider').$type<Provider>().notNull(),
    model: text('model').notNull(),
    status: text('status').$type<TaskStatus>().notNull(),
    /** Incremented with every status change; subscribers use it to skip what they have already seen. */
    version: integer('version').notNull().default(1),
    statusMessage: text('status_message'),
    progress: real('progress'),
    /** The client's own id for the task, unique per tenant. */
    externalTaskId: text('external_task_id'),
    /**
     * SHA-256 (hex) of what the create asked for (kind, provider, model, webhook URL and the provider
     * request with each media body as its checksum): a create repeated with the same externalTaskId and
     * this fingerprint answers the existing task instead of a duplicate error.
     */
    inputFingerprint: text('input_fingerprint'),
    /** The provider's id, known once the provider accepted the task. */
    providerTaskId: text('provider_task_id'),
    /** The normalized input as the client gave it, with media bodies elided. */
    input: jsonb('input').$type<Record<string, unknown>>().notNull(),
    /** The exact request body sent upstream (media bodies included), kept until submission succeeds. */
    providerRequest: jsonb('provider_request').$type<Record<string, unknown> | null>(),
    /**
     * The providers still to try, in order, each with its request (media as `{ mediaId }`): the rest of
     * the route after `provider`. Empty for a route of one.
     */
    route: jsonb('route').$type<RouteStep[]>().notNull().default([]),
    /** The providers tried before `provider`, and why the task moved on from each. */
    attempts: jsonb('attempts').$type<RouteAttempt[]>().notNull().default([]),
    output: jsonb('output').$type<TaskOutput>().notNull().default({ videos: [], audios: [] }),
    error: jsonb('error').$type<TaskErrorInfo | null>(),
    cost: jsonb('cost').$type<TaskCostInfo | null>(),
    /**
     * The cost units the price table (COST_ESTIMATES) gave this task when it was created: reserved against
     * the tenant's monthly budget until the provider reports the cost, and the cost where it reports none.
     */
    costEstimate: numeric('cost_estimate'),
    /**
     * SHA-256 (hex) of the random token in the callback URL of the latest create sent upstream.
     * A new token is made for each attempt and its hash committed before the request goes out.
     */
    callbackTokenHash: text('callback_token_hash'),
    /** Where this task's events are delivered as signed webhooks (or the tenant's default). */
    webhookUrl: text('webhook_url'),
    /** Create requests started upstream; more than zero means one may have reached the provider. */
    submitAttempts: integer('submit_attempts').notNull().default(0),
    submitStartedAt: timestamp('submit_started_at', { withTimezone: true }),
    /** When the reconciliation poller looks at the task next, and the current backoff. */
    nextPollAt: timestamp('next_poll_at', { withTimezone: true }),
    pollDelayMs: integer('poll_delay_ms'),
    /** The provider's own last-update time, so stale reports cannot win. */
    providerUpdatedAt: timestamp('provider_updated_at', { withTimezone: true }),
    /** Millisecond precision, so a keyset cursor built from a JS Date matches the row exactly. */
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    submittedAt: timestamp('submitted_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    /** When `deleteTask` erased the task's media (inputs and archived outputs); the row stays. */
    erasedAt: timestamp('erased_at', { withTimezone: true }),
  },
  (t) => [
    index('tasks_tenant_created_idx').on(t.tenantId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    uniqueIndex('tasks_tenant_external_id_idx').on(t.tenantId, t.externalTaskId),
    uniqueIndex('tasks_callback_token_hash_idx').on(t.callbackTokenHash),
    index('tasks_active_idx').on(t.status).where(sql`${t.status} in ('PENDING', 'SUBMITTED', 'PROCESSING')`),
    index('tasks_poll_idx').on(t.nextPollAt).where(sql`${t.status} in ('SUBMITTED', 'PROCESSING')`),
    // The retention sweep's: stored outputs by age.
    index('tasks_archived_outputs_idx')
      .on(t.completedAt)
      .where(sql`(${t.output} -> 'archive' ->> 'status') in ('ARCHIVED', 'FAILED')`),
    index('tasks_provider_inflight_idx')
      .on(t.provider, t.submitStartedAt)
      .where(sql`${t.status} in ('PENDING', 'SUBMITTED', 'PROCESSING')`),
    check(
      'tasks_status_check',
      sql`${t.status} in ('PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED')`,
    ),
    check('tasks_kind_check', sql`${t.kind} in ('AVATAR_VIDEO', 'VIDEO_SOUND')`),
    check('tasks_provider_check', sql`${t.provider} in ('KLING', 'KIE', 'DIGITAL_HUMAN')`),
  ],
);

export type TaskRow = typeof tasks.$inferSelect;
export type NewTaskRow = typeof tasks.$inferInsert;
