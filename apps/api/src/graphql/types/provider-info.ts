import type { Provider, TaskKind } from '@clipwire/schema';
import { PROVIDERS } from '@clipwire/schema';
import type { CircuitState } from '../../providers/health.js';
import { builder } from '../builder.js';
import { ProviderEnum, TaskKindEnum } from './enums.js';

interface ProviderInfo {
  provider: Provider;
  configured: boolean;
  mode: 'SANDBOX' | 'LIVE' | null;
  capabilities: TaskKind[];
  callbacks: boolean;
  circuit: CircuitState;
  inFlight: number;
  limit: number | null;
}

const CircuitStateEnum = builder.enumType('CircuitState', {
  values: {
    CLOSED: { description: 'Healthy: calls go through.' },
    OPEN: { description: 'Failing: calls are held back until a trial call succeeds.' },
    HALF_OPEN: { description: 'A trial call is allowed through.' },
  } as const,
});

const ProviderModeEnum = builder.enumType('ProviderMode', {
  values: {
    SANDBOX: { description: 'Served by the built-in simulator (no credentials configured).' },
    LIVE: { description: 'The real provider API.' },
  } as const,
});

const ProviderInfoType = builder.objectRef<ProviderInfo>('ProviderInfo').implement({
  fields: (t) => ({
    provider: t.expose('provider', { type: ProviderEnum }),
    configured: t.exposeBoolean('configured'),
    mode: t.expose('mode', { type: ProviderModeEnum, nullable: true }),
    capabilities: t.expose('capabilities', { type: [TaskKindEnum] }),
    callbacks: t.exposeBoolean('callbacks', {
      description: 'Whether the provider calls back; otherwise tasks are polled.',
    }),
    circuit: t.expose('circuit', {
      type: CircuitStateEnum,
      description: 'The circuit breaker in front of the provider (this process).',
    }),
    inFlight: t.exposeInt('inFlight', { description: 'Tasks sent to the provider and not final yet (all tenants).' }),
    limit: t.exposeInt('limit', {
      nullable: true,
      description: 'Concurrency limit (slots), where the provider has one.',
    }),
  }),
});

builder.queryField('providers', (t) =>
  t.field({
    type: [ProviderInfoType],
    resolve: (_root, _args, ctx) =>
      Promise.all(
        PROVIDERS.map(async (provider) => {
          const adapters = ctx.adapters.list().filter((a) => a.provider === provider);
          const usage = await ctx.tasks.usage(provider);
          return {
            provider,
            configured: adapters.length > 0,
            mode: adapters[0]?.mode ?? null,
            capabilities: adapters.map((a) => a.kind),
            callbacks: adapters.some((a) => a.callbacks),
            circuit: ctx.health.state(provider),
            ...usage,
          };
        }),
      ),
  }),
);
