import { PROVIDERS, type Provider } from '@clipwire/schema';
import { tenants, type TenantLimitsRow } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { type MonthCost, quotaUsage, type QuotaUsage, readLimits } from '../../tasks/quota.js';
import { setTenantLimits } from '../../tasks/quota-settings.js';
import { builder } from '../builder.js';
import { ProviderEnum } from './enums.js';
import { INPUT_ERRORS, invalidArgument } from './errors.js';

interface Quota {
  tenant: string;
  limits: TenantLimitsRow | null;
  usage: QuotaUsage;
}

const MonthCostType = builder.objectRef<MonthCost & { max: number | null }>('MonthCost').implement({
  description:
    'Cost units of the current UTC calendar month (tasks created in it). `used` counts against the budget: the costs the providers reported, and the estimate (COST_ESTIMATES) of every task with no reported cost that may be charged (running, SUCCEEDED, or CANCELED after it was sent).',
  fields: (t) => ({
    max: t.exposeFloat('max', { nullable: true, description: 'The budget; null: none.' }),
    used: t.exposeFloat('used'),
    reported: t.exposeFloat('reported', { description: 'Of `used`: reported by the provider.' }),
    estimated: t.exposeFloat('estimated', { description: 'Of `used`: estimates (no cost reported).' }),
  }),
});

const ProviderQuotaType = builder
  .objectRef<{ provider: Provider; cost: MonthCost & { max: number | null } }>('ProviderQuota')
  .implement({
    description: 'One provider’s monthly budget, in its own cost units.',
    fields: (t) => ({
      provider: t.field({ type: ProviderEnum, resolve: (p) => p.provider }),
      monthCost: t.field({ type: MonthCostType, resolve: (p) => p.cost }),
    }),
  });

const QuotaType = builder.objectRef<Quota>('Quota').implement({
  description:
    'A tenant’s limits and what counts against them now. Days and months are UTC. A create that would exceed a limit answers QuotaExceeded.',
  fields: (t) => ({
    tenant: t.exposeString('tenant'),
    maxInFlight: t.int({ nullable: true, resolve: (q) => q.limits?.maxInFlight ?? null }),
    inFlight: t.int({ description: 'Tasks PENDING, SUBMITTED or PROCESSING.', resolve: (q) => q.usage.inFlight }),
    maxTasksPerDay: t.int({ nullable: true, resolve: (q) => q.limits?.maxTasksPerDay ?? null }),
    tasksToday: t.int({ description: 'Tasks created since 00:00 UTC.', resolve: (q) => q.usage.tasksToday }),
    dayResetsAt: t.field({ type: 'DateTime', resolve: (q) => q.usage.dayResetsAt }),
    monthCost: t.field({
      type: MonthCostType,
      description: 'All providers together (the sum of their units).',
      resolve: (q) => ({
        ...q.usage.monthTotal,
        max: q.limits?.monthlyBudget == null ? null : Number(q.limits.monthlyBudget),
      }),
    }),
    providers: t.field({
      type: [ProviderQuotaType],
      resolve: (q) =>
        PROVIDERS.map((provider) => ({
          provider,
          cost: { ...q.usage.month[provider], max: q.limits?.monthlyBudgetByProvider[provider] ?? null },
        })),
    }),
    monthResetsAt: t.field({ type: 'DateTime', resolve: (q) => q.usage.monthResetsAt }),
  }),
});

async function quotaOf(db: DbOrTx, tenantId: string, tenant: string): Promise<Quota> {
  return { tenant, limits: await readLimits(db, tenantId), usage: await quotaUsage(db, tenantId) };
}

builder.queryField('quota', (t) =>
  t.field({
    type: QuotaType,
    description: 'Your limits and what counts against them now.',
    resolve: async (_root, _args, ctx) => {
      const [tenant] = await ctx.db.select().from(tenants).where(eq(tenants.id, ctx.principal.tenantId));
      return quotaOf(ctx.db, ctx.principal.tenantId, tenant?.name ?? '');
    },
  }),
);

const ProviderBudgetInput = builder.inputType('ProviderBudgetInput', {
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, required: true }),
    monthlyBudget: t.float({ required: true, description: 'Cost units per UTC calendar month, in its units.' }),
  }),
});

const TenantLimitsInput = builder.inputType('TenantLimitsInput', {
  description: 'Every limit of a tenant at once: a limit left out or null is no limit.',
  fields: (t) => ({
    maxInFlight: t.int({ description: 'Tasks PENDING, SUBMITTED or PROCESSING at once (0–1,000,000).' }),
    maxTasksPerDay: t.int({ description: 'Tasks created per UTC day (0–1,000,000).' }),
    monthlyBudget: t.float({ description: 'Cost units per UTC calendar month, all providers together.' }),
    providerBudgets: t.field({ type: [ProviderBudgetInput], description: 'At most one per provider.' }),
  }),
});

builder.mutationField('setTenantLimits', (t) =>
  t.field({
    type: QuotaType,
    errors: INPUT_ERRORS,
    authScopes: { admin: true },
    description: 'Sets a tenant’s limits (an admin key). Creates already accepted are not undone.',
    args: {
      tenant: t.arg.string({ required: true, description: 'The tenant’s name.' }),
      input: t.arg({ type: TenantLimitsInput, required: true }),
    },
    resolve: async (_root, { tenant, input }, ctx) => {
      const [row] = await ctx.db.select().from(tenants).where(eq(tenants.name, tenant));
      if (!row) throw invalidArgument('tenant', `no tenant is named "${tenant}"`);
      await setTenantLimits(ctx.db, row.id, input);
      return quotaOf(ctx.db, row.id, tenant);
    },
  }),
);
