import { ROUTE_OUTCOMES, type Provider, type RouteAttempt, type TaskKind } from '@clipwire/schema';
import { listDefaultRoutes, setDefaultRoute } from '../../tasks/route-settings.js';
import { builder } from '../builder.js';
import { ProviderEnum, TaskKindEnum } from './enums.js';
import { INPUT_ERRORS } from './errors.js';

export const RouteOutcomeEnum = builder.enumType('RouteOutcome', {
  description:
    'SKIPPED: never sent (its limits refuse the input, or when the task was created it was refusing the account, had its circuit open or is not configured). REFUSED: it refused the create. UNAVAILABLE: it could not be reached, or stayed busy, and provably holds no create. ACCEPTED: the task runs there. PENDING: being sent there. STOPPED: the task ended there without being accepted.',
  values: ROUTE_OUTCOMES,
});

export const RouteAttemptType = builder.objectRef<RouteAttempt>('RouteAttempt').implement({
  description: 'One provider of a task’s route and what came of it.',
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, resolve: (a) => a.provider }),
    outcome: t.field({ type: RouteOutcomeEnum, resolve: (a) => a.outcome }),
    code: t.string({
      nullable: true,
      description: 'The provider’s code (1102), or ours (INPUT_LIMITS, CIRCUIT_OPEN, BUSY, UNCONFIRMED_ABSENT, …).',
      resolve: (a) => a.code,
    }),
    message: t.string({ nullable: true, resolve: (a) => a.message }),
    at: t.field({ type: 'DateTime', resolve: (a) => new Date(a.at) }),
  }),
});

const DefaultRouteType = builder.objectRef<{ kind: TaskKind; route: Provider[] }>('DefaultRoute').implement({
  description: 'The providers a create that names neither `provider` nor `route` is tried on, in order.',
  fields: (t) => ({
    kind: t.field({ type: TaskKindEnum, resolve: (r) => r.kind }),
    route: t.field({ type: [ProviderEnum], resolve: (r) => r.route }),
  }),
});

builder.queryField('defaultRoutes', (t) =>
  t.field({
    type: [DefaultRouteType],
    description: 'Your default routes, per kind of task (none set: a create names its provider, or runs on KLING).',
    resolve: (_root, _args, ctx) => ctx.asTenant((db) => listDefaultRoutes(db, ctx.principal.tenantId)),
  }),
);

builder.mutationField('setDefaultRoute', (t) =>
  t.field({
    type: DefaultRouteType,
    errors: INPUT_ERRORS,
    description: 'Sets your default route for a kind of task; an empty route clears it (and is answered).',
    args: {
      kind: t.arg({ type: TaskKindEnum, required: true }),
      route: t.arg({ type: [ProviderEnum], required: true }),
    },
    resolve: async (_root, { kind, route }, ctx) => {
      const set = await ctx.asTenant((db) => setDefaultRoute(db, ctx.principal.tenantId, kind, route));
      // Creates read the routes with the key (cached a moment): this process reads them again now,
      // others within the key cache's 2 s.
      ctx.forgetTenantKeys();
      return { kind, route: set ?? [] };
    },
  }),
);
