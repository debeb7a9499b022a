import type { Provider, TaskKind } from '@clipwire/schema';
import { PROVIDERS } from '@clipwire/schema';
import { builder } from '../builder.js';
import { ProviderEnum, TaskKindEnum } from './enums.js';

interface ProviderInfo {
  provider: Provider;
  configured: boolean;
  mode: 'SANDBOX' | 'LIVE' | null;
  capabilities: TaskKind[];
  callbacks: boolean;
}

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
    callbacks: t.exposeBoolean('callbacks', { description: 'Whether the provider calls back; otherwise tasks are polled.' }),
  }),
});

builder.queryField('providers', (t) =>
  t.field({
    type: [ProviderInfoType],
    resolve: (_root, _args, ctx) =>
      PROVIDERS.map((provider) => {
        const adapters = ctx.adapters.list().filter((a) => a.provider === provider);
        return {
          provider,
          configured: adapters.length > 0,
          mode: adapters[0]?.mode ?? null,
          capabilities: adapters.map((a) => a.kind),
          callbacks: adapters.some((a) => a.callbacks),
        };
      }),
  }),
);
