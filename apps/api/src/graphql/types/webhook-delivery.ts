import { isUuid } from '@clipwire/schema';
import type { WEBHOOK_DELIVERY_STATUSES, WebhookDeliveryAttemptRow, WebhookDeliveryRow } from '@clipwire/schema/tables';
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import {
  attemptsOf,
  decodeDeliveryCursor,
  encodeDeliveryCursor,
  eventsByIds,
  listDeliveries,
  type DeliveryCursor,
} from '../../webhooks/deliveries.js';
import { builder } from '../builder.js';
import { TaskEventType } from './task-event.js';
import { TaskType } from './task.js';

export const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { value: 'PENDING', description: 'Not tried yet (waiting behind an earlier delivery of its task).' },
    RETRYING: { value: 'RETRYING', description: 'The last attempt failed; another is due at nextAttemptAt.' },
    DELIVERED: { value: 'DELIVERED', description: 'The receiver answered 2xx.' },
    FAILED: { value: 'FAILED', description: 'Given up after the last retry.' },
  } as const satisfies Record<(typeof WEBHOOK_DELIVERY_STATUSES)[number], unknown>,
});

const WebhookDeliveryAttemptType = builder.objectRef<WebhookDeliveryAttemptRow>('WebhookDeliveryAttempt').implement({
  description: 'One HTTP attempt of a delivery: what the receiver answered (never what was sent).',
  fields: (t) => ({
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true, description: 'Null when no answer came.' }),
    durationMs: t.exposeInt('durationMs'),
    responseExcerpt: t.exposeString('responseExcerpt', {
      nullable: true,
      description: 'The first 1 KiB of the response body.',
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why the attempt failed (null when delivered).' }),
  }),
});

export const WebhookDeliveryType = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  description:
    'One delivery of a task event to a URL, with its attempts. Kept for WEBHOOK_DELIVERY_RETENTION_DAYS days.',
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum }),
    eventType: t.string({ description: 'The body’s `type`.', resolve: () => 'task.updated' }),
    webhookId: t.string({
      description: 'The `webhook-id` header: the event’s, the same on every retry and redelivery (dedupe on it).',
      resolve: (d) => `evt_${d.eventId}`,
    }),
    event: t.loadable({
      type: TaskEventType,
      nullable: true,
      description: 'The event delivered (its `task` and `cursor`).',
      load: (ids: number[], ctx) => eventsByIds(ctx.db, ctx.principal.tenantId, ids),
      resolve: (d) => d.eventId,
    }),
    attemptCount: t.exposeInt('attemptCount'),
    attempts: t.loadableList({
      type: WebhookDeliveryAttemptType,
      description: 'Oldest first.',
      load: (ids: string[], ctx) => attemptsOf(ctx.db, ids),
      resolve: (d) => d.id,
    }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'When RETRYING.' }),
    redeliveryOf: t.exposeID('redeliveryOf', {
      nullable: true,
      description: 'The delivery this one repeats (redeliverWebhook).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('webhookDeliveries', (t) =>
  t.connection({
    type: WebhookDeliveryType,
    description: 'Your webhook deliveries, newest first; of one task and in one status when given.',
    args: {
      taskId: t.arg.globalID({ for: TaskType }),
      status: t.arg({ type: WebhookDeliveryStatusEnum }),
    },
    resolve: async (_root, args, ctx) => {
      const taskId = args.taskId?.id;
      if (taskId !== undefined && !isUuid(taskId)) return emptyConnection();
      return resolveCursorConnection(
        { args, toCursor: encodeDeliveryCursor, defaultSize: 20, maxSize: 100 },
        (page: ResolveCursorConnectionArgs) =>
          listDeliveries(ctx.db, ctx.principal.tenantId, {
            after: page.after === undefined ? undefined : parseCursor(page.after, 'after'),
            before: page.before === undefined ? undefined : parseCursor(page.before, 'before'),
            limit: page.limit,
            inverted: page.inverted,
            filter: { taskId, status: args.status ?? undefined },
          }),
      );
    },
  }),
);

function emptyConnection() {
  return {
    edges: [],
    pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
  };
}

function parseCursor(cursor: string, arg: string): DeliveryCursor {
  const decoded = decodeDeliveryCursor(cursor);
  if (!decoded)
    throw new GraphQLError(`${arg}: is not a cursor of this connection`, { extensions: { code: 'BAD_USER_INPUT' } });
  return decoded;
}
