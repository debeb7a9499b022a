import { tenants } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { GraphQLError } from 'graphql';
import { createApiKey, createTenant, listApiKeys, revokeApiKey } from '../../auth/api-keys.js';
import { isUuid } from '@clipwire/schema';
import { isUniqueViolation } from '../../tasks/repository.js';
import { keysTenant } from '../auth.js';
import { builder } from '../builder.js';
import { INPUT_ERRORS, invalidArgument } from './errors.js';
import type { GraphQLContext } from '../context.js';

type ApiKeyRow = Awaited<ReturnType<typeof listApiKeys>>[number];

const ApiKeyScopeEnum = builder.enumType('ApiKeyScope', {
  values: {
    TENANT: { value: 'tenant' },
    ADMIN: { value: 'admin', description: 'Can also create tenants and their keys.' },
  } as const,
});

const ApiKeyType = builder.objectRef<Omit<ApiKeyRow, 'tenantId'> & { tenantId: string }>('ApiKey').implement({
  description: 'An API key, as it is stored: never the key itself, only its first characters.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenant: t.exposeString('tenant'),
    name: t.exposeString('name'),
    scope: t.expose('scope', { type: ApiKeyScopeEnum }),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key was last used, to within a minute; null if never.',
    }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedApiKeyType = builder.objectRef<{ key: string; apiKey: ApiKeyRow }>('CreatedApiKey').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The key itself. Shown this once: Clipwire keeps only its SHA-256.' }),
    apiKey: t.field({ type: ApiKeyType, resolve: (c) => c.apiKey }),
  }),
});

async function created(ctx: GraphQLContext, key: { id: string; key: string }) {
  const rows = await listApiKeys(ctx.db, null);
  return { key: key.key, apiKey: rows.find((r) => r.id === key.id)! };
}

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKeyType],
    description: 'Your tenant’s keys (an admin key: every tenant’s).',
    resolve: (_root, _args, ctx) => listApiKeys(ctx.db, keysTenant(ctx)),
  }),
);

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKeyType,
    errors: INPUT_ERRORS,
    description: 'A new key for your tenant (an admin key may name another tenant, created if needed).',
    args: { name: t.arg.string({ required: true }), tenant: t.arg.string() },
    // Naming a tenant (another one, or a new one) takes an admin key.
    authScopes: (_root, args) => (args.tenant == null ? { tenant: true } : { admin: true }),
    resolve: async (_root, { name, tenant }, ctx) => {
      if (name.length < 1 || name.length > 100) throw invalidArgument('name', 'must be 1 to 100 characters');
      let tenantId = ctx.principal.tenantId;
      if (tenant != null) {
        const [existing] = await ctx.db.select().from(tenants).where(eq(tenants.name, tenant));
        tenantId =
          existing?.id ??
          (await createTenant(ctx.db, tenant).catch((e: unknown) => {
            if (isUniqueViolation(e)) throw new GraphQLError('tenant: created concurrently, try again');
            throw e;
          }));
      }
      return created(ctx, await createApiKey(ctx.db, tenantId, name));
    },
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: ApiKeyType,
    nullable: true,
    description:
      'Revokes a key: refused within seconds on every path, and its open WebSockets are closed. Null for an unknown id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      if (!isUuid(String(id))) return null;
      const row = await revokeApiKey(ctx.db, String(id), keysTenant(ctx));
      if (!row) return null;
      return (await listApiKeys(ctx.db, null)).find((r) => r.id === row.id) ?? null;
    },
  }),
);
