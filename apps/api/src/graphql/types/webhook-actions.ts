import { isUuid, webhookUrlSchema } from '@clipwire/schema';
import { findTenant } from '../../tasks/repository.js';
import type { AttemptResult } from '../../webhooks/send.js';
import { builder } from '../builder.js';
import { INPUT_ERRORS, invalidArgument } from './errors.js';
import { WebhookDeliveryType } from './webhook-delivery.js';

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    type: WebhookDeliveryType,
    nullable: true,
    description:
      'Delivers a delivery’s event again, to the same URL, as a new delivery: signed afresh, with the same `webhook-id` (receivers dedupe on it), not ordered behind the task’s other deliveries. Null for an unknown id.',
    args: { deliveryId: t.arg.id({ required: true }) },
    resolve: (_root, { deliveryId }, ctx) =>
      isUuid(String(deliveryId)) ? ctx.webhooks.redeliver(ctx.principal.tenantId, String(deliveryId)) : null,
  }),
);

const WebhookTestResultType = builder
  .objectRef<AttemptResult & { url: string; webhookId: string }>('WebhookTestResult')
  .implement({
    description: 'What the receiver did with a signed `webhook.test` event.',
    fields: (t) => ({
      url: t.exposeString('url'),
      webhookId: t.exposeString('webhookId', { description: 'Its `webhook-id` header (`test_…`).' }),
      delivered: t.exposeBoolean('ok', { description: 'The receiver answered 2xx.' }),
      httpStatus: t.exposeInt('httpStatus', { nullable: true, description: 'Null when no answer came.' }),
      durationMs: t.exposeInt('durationMs'),
      responseExcerpt: t.exposeString('responseExcerpt', {
        nullable: true,
        description: 'The first 1 KiB of the response body.',
      }),
      error: t.exposeString('error', { nullable: true }),
    }),
  });

builder.mutationField('sendTestWebhook', (t) =>
  t.field({
    type: WebhookTestResultType,
    errors: INPUT_ERRORS,
    description:
      'Posts a signed sample event (`type: "webhook.test"`) to `url`, or to your default webhook URL, now, and answers what happened. The URL is checked as deliveries’ are (no private address unless in WEBHOOK_ALLOW_ORIGINS). Nothing is stored.',
    args: { url: t.arg.string() },
    resolve: async (_root, { url }, ctx) => {
      const target = url ?? (await findTenant(ctx.db, ctx.principal.tenantId))?.webhookUrl ?? null;
      if (target === null) throw invalidArgument('url', 'give a URL, or set a default webhook URL first');
      const parsed = webhookUrlSchema.safeParse(target);
      const problem = parsed.success ? ctx.webhooks.checkUrl(target) : parsed.error.issues[0]?.message;
      if (problem) throw invalidArgument('url', problem);
      return ctx.webhooks.sendTest(ctx.principal.tenantId, target);
    },
  }),
);
