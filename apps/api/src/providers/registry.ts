import type { Provider, TaskKind } from '@clipwire/schema';
import type { TaskAdapter } from './types.js';

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

/** The path segment of each provider's callback route: /callbacks/{slug}/{token}. */
export const CALLBACK_SLUGS: Record<Provider, string> = { KLING: 'kling', KIE: 'kie', DIGITAL_HUMAN: 'digital-human' };

export function providerForSlug(slug: string): Provider | undefined {
  return (Object.entries(CALLBACK_SLUGS) as [Provider, string][]).find(([, s]) => s === slug)?.[0];
}
