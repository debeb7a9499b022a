import { tenants } from '@clipwire/schema/tables';
import { webhookUrlSchema } from '@clipwire/schema';
import { eq } from 'drizzle-orm';
import { findTenant } from '../../tasks/repository.js';
import { builder } from '../builder.js';
import { INPUT_ERRORS, invalidArgument } from './errors.js';

interface WebhookSettings {
  defaultUrl: string | null;
  secret: string;
  secretCreatedAt: Date;
}

const WebhookSettingsType = builder.objectRef<WebhookSettings>('WebhookSettings').implement({
  description:
    'How your task events are delivered: Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature), signed with `secret`.',
  fields: (t) => ({
    defaultUrl: t.exposeString('defaultUrl', { nullable: true, description: 'Used by tasks that name no webhookUrl.' }),
    secret: t.exposeString('secret', { description: 'The current signing secret (whsec_…).' }),
    secretCreatedAt: t.expose('secretCreatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('webhookSettings', (t) =>
  t.field({
    type: WebhookSettingsType,
    resolve: async (_root, _args, ctx) => {
      const tenant = await findTenant(ctx.db, ctx.principal.tenantId);
      const { secret, createdAt } = await ctx.webhooks.currentSecret(ctx.principal.tenantId);
      return { defaultUrl: tenant?.webhookUrl ?? null, secret, secretCreatedAt: createdAt };
    },
  }),
);

builder.mutationField('setDefaultWebhookUrl', (t) =>
  t.field({
    type: WebhookSettingsType,
    errors: INPUT_ERRORS,
    args: { url: t.arg.string({ description: 'null to stop delivering tasks that name no webhookUrl.' }) },
    resolve: async (_root, { url }, ctx) => {
      if (url != null) {
        const parsed = webhookUrlSchema.safeParse(url);
        const problem = parsed.success ? ctx.webhooks.checkUrl(url) : parsed.error.issues[0]?.message;
        if (problem) throw invalidArgument('url', problem);
      }
      await ctx.db
        .update(tenants)
        .set({ webhookUrl: url ?? null })
        .where(eq(tenants.id, ctx.principal.tenantId));
      const { secret, createdAt } = await ctx.webhooks.currentSecret(ctx.principal.tenantId);
      return { defaultUrl: url ?? null, secret, secretCreatedAt: createdAt };
    },
  }),
);

builder.mutationField('rotateWebhookSecret', (t) =>
  t.field({
    type: WebhookSettingsType,
    errors: INPUT_ERRORS,
    description:
      'Makes a new signing secret. The previous one keeps signing too (a second signature) for `graceHours`.',
    args: { graceHours: t.arg.int({ defaultValue: 24 }) },
    resolve: async (_root, { graceHours }, ctx) => {
      const hours = graceHours ?? 24;
      if (hours < 0 || hours > 24 * 30) throw invalidArgument('graceHours', 'must be between 0 and 720');
      const { secret, createdAt } = await ctx.webhooks.rotate(ctx.principal.tenantId, hours * 3600_000);
      const tenant = await findTenant(ctx.db, ctx.principal.tenantId);
      return { defaultUrl: tenant?.webhookUrl ?? null, secret, secretCreatedAt: createdAt };
    },
  }),
);
