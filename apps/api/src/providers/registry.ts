import type { Provider, TaskKind } from '@clipwire/schema';
import type { SimulatorOptions } from '@clipwire/providers/simulator';
import type { Config, ProviderSettings } from '../config.js';
import { digitalHuman } from './digital-human/index.js';
import { kie } from './kie/index.js';
import { kling } from './kling/index.js';
import { sliceAdapters, type AdapterEnv, type ProviderSlice } from './slice.js';
import type { TaskAdapter } from './types.js';

/** Every provider, one line each: its folder under src/providers/ holds all that is its own. */
export const PROVIDER_SLICES: Record<Provider, ProviderSlice> = {
  KLING: kling,
  KIE: kie,
  DIGITAL_HUMAN: digitalHuman,
};

/** The configured provider capabilities. A missing entry means "not configured": creates are refused. */
export class AdapterRegistry {
  private readonly byKey = new Map<string, TaskAdapter>();

  constructor(adapters: TaskAdapter[]) {
    for (const a of adapters) this.byKey.set(`${a.provider}:${a.kind}`, a);
  }

  get(provider: Provider, kind: TaskKind): TaskAdapter | undefined {
    return this.byKey.get(`${provider}:${kind}`);
  }

  list(): TaskAdapter[] {
    return [...this.byKey.values()];
  }
}

/** One adapter per configured provider capability; sandboxed providers talk to the simulator. */
export function buildAdapterRegistry(config: Config, env: AdapterEnv): AdapterRegistry {
  return new AdapterRegistry(Object.values(PROVIDER_SLICES).flatMap((slice) => sliceAdapters(slice, config, env)));
}

/** The path segment of each provider's callback route: /callbacks/{slug}/{token}. */
export const CALLBACK_SLUGS = Object.fromEntries(
  Object.values(PROVIDER_SLICES).map((slice) => [slice.provider, slice.slug]),
) as Record<Provider, string>;

export function providerForSlug(slug: string): Provider | undefined {
  return Object.values(PROVIDER_SLICES).find((slice) => slice.slug === slug)?.provider;
}

/** Each provider's part of the configuration. */
export function providerSettings(config: Config): ProviderSettings<unknown>[] {
  return Object.values(PROVIDER_SLICES).map((slice) => slice.settings(config));
}

/** The sandbox simulator's options for every provider (keys, and signing secrets when configured). */
export function simulatorOptions(config: Config): SimulatorOptions {
  const ttl = config.simulator.outputTtlSeconds;
  return Object.assign(
    ttl === undefined ? {} : { outputTtlSeconds: ttl },
    ...Object.values(PROVIDER_SLICES).map((slice) => slice.simulator(config)),
  );
}

/** The origins of the sandboxed providers: the only private addresses URL media may be fetched from. */
export function sandboxOrigins(config: Config, sandboxUrl: string | undefined): string[] {
  const urls = providerSettings(config)
    .filter((p) => p.mode === 'SANDBOX')
    .map((p) => p.baseUrl ?? sandboxUrl);
  return [...new Set(urls.filter((u): u is string => u !== undefined).map((u) => new URL(u).origin))];
}
