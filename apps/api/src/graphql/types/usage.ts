import { GraphQLError } from 'graphql';
import { USAGE_DIMENSIONS, usage, usageRangeIssues, type UsageRow } from '../../tasks/usage.js';
import { builder } from '../builder.js';
import { ProviderEnum, TaskKindEnum } from './enums.js';

const UsageDimensionEnum = builder.enumType('UsageDimension', {
  values: USAGE_DIMENSIONS,
  description: 'DAY: the UTC day a task was created (00:00–24:00 UTC, whatever your time zone); PROVIDER; KIND.',
});

const UsageRowType = builder.objectRef<UsageRow>('UsageRow').implement({
  description:
    'The tasks created in one bucket: a UTC day, a provider, a kind, as grouped (a dimension not grouped by is null).',
  fields: (t) => ({
    day: t.exposeString('day', { nullable: true, description: 'YYYY-MM-DD, a UTC day (grouped by DAY).' }),
    provider: t.field({ type: ProviderEnum, nullable: true, resolve: (r) => r.provider }),
    kind: t.field({ type: TaskKindEnum, nullable: true, resolve: (r) => r.kind }),
    tasks: t.exposeInt('tasks'),
    succeeded: t.exposeInt('succeeded'),
    failed: t.exposeInt('failed'),
    canceled: t.exposeInt('canceled'),
    running: t.exposeInt('running', { description: 'Not final yet.' }),
    costReported: t.exposeFloat('costReported', {
      description: 'Cost units the providers reported (Kling final_unit_deduction), in each provider’s units.',
    }),
    costEstimated: t.exposeFloat('costEstimated', {
      description:
        'Estimates (COST_ESTIMATES) for tasks with no reported cost that may be charged: running, SUCCEEDED, or CANCELED after they were sent.',
    }),
    mediaSeconds: t.exposeFloat('mediaSeconds', {
      description: 'Seconds generated: avatar videos, video-sound audios, where the provider gave a duration.',
    }),
    outputsWithoutDuration: t.exposeInt('outputsWithoutDuration', {
      description: 'Outputs with no duration given (not in mediaSeconds).',
    }),
    meanSecondsToComplete: t.exposeFloat('meanSecondsToComplete', {
      nullable: true,
      description: 'Creation to SUCCEEDED, over the SUCCEEDED tasks.',
    }),
    p95SecondsToComplete: t.exposeFloat('p95SecondsToComplete', {
      nullable: true,
      description: 'Its 95th percentile (continuous).',
    }),
  }),
});

builder.queryField('usage', (t) =>
  t.field({
    type: [UsageRowType],
    description: `Your tasks created in [from, to), grouped by groupBy (none: one row of totals), computed in the database. Days are UTC. At most 366 days. Also as CSV: GET /usage.csv?from=…&to=…&groupBy=DAY,PROVIDER.`,
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      groupBy: t.arg({ type: [UsageDimensionEnum], required: false }),
    },
    resolve: (_root, { from, to, groupBy }, ctx) => {
      const [issue] = usageRangeIssues(from, to);
      if (issue)
        throw new GraphQLError(`${issue.path.join('.')}: ${issue.message}`, { extensions: { code: 'BAD_USER_INPUT' } });
      return usage(ctx.db, ctx.principal.tenantId, { from, to, groupBy: groupBy ?? [] });
    },
  }),
);
