import { DigitalHumanClient } from '@clipwire/providers/digital-human';
import { KieClient } from '@clipwire/providers/kie';
import { KlingClient } from '@clipwire/providers/kling';
import type { Dispatcher } from 'undici';
import type { Config } from '../config.js';
import { digitalHumanAdapter } from './digital-human.js';
import { kieAvatarAdapter } from './kie.js';
import { klingAvatarAdapter, klingVideoSoundAdapter } from './kling.js';
import { AdapterRegistry } from './registry.js';
import type { TaskAdapter } from './types.js';

/** One adapter per configured provider capability; sandboxed providers talk to the simulator. */
export function buildAdapters(
  config: Config,
  sandboxUrl: string | undefined,
  dispatcher: Dispatcher | undefined,
): AdapterRegistry {
  const adapters: TaskAdapter[] = [];
  const base = (p: { mode: 'LIVE' | 'SANDBOX'; baseUrl: string | undefined }) =>
    p.mode === 'LIVE' ? p.baseUrl : (p.baseUrl ?? sandboxUrl);
  const klingUrl = base(config.kling);
  if (klingUrl) {
    const kling = new KlingClient({
      baseUrl: klingUrl,
      auth: config.kling.auth,
      dispatcher,
      timeoutMs: config.providerTimeoutMs,
    });
    adapters.push(
      klingAvatarAdapter(kling, config.kling.mode, config.klingWebhookSecret),
      klingVideoSoundAdapter(kling, config.kling.mode, config.klingWebhookSecret),
    );
  }
  const kieUrl = base(config.kie);
  if (kieUrl) {
    const uploadBaseUrl = config.kie.uploadBaseUrl ?? (config.kie.mode === 'SANDBOX' ? kieUrl : undefined);
    const kie = new KieClient({
      apiKey: config.kie.auth.apiKey,
      baseUrl: kieUrl,
      dispatcher,
      timeoutMs: config.providerTimeoutMs,
      ...(uploadBaseUrl ? { uploadBaseUrl } : {}),
    });
    adapters.push(
      kieAvatarAdapter(kie, config.kie.mode, {
        hmacKey: config.kie.webhookHmacKey,
        // Live without a public base URL, KIE cannot fetch our /media links: use its upload API.
        uploadInputs: config.kie.mode === 'LIVE' && !config.publicBaseUrl,
      }),
    );
  }
  const dhUrl = base(config.digitalHuman);
  if (dhUrl) {
    const dh = new DigitalHumanClient({
      baseUrl: dhUrl,
      apiKey: config.digitalHuman.auth.apiKey,
      dispatcher,
      timeoutMs: config.providerTimeoutMs,
    });
    adapters.push(digitalHumanAdapter(dh, config.digitalHuman.mode));
  }
  return new AdapterRegistry(adapters);
}

/** The origins of the sandboxed providers: the only private addresses URL media may be fetched from. */
export function sandboxOrigins(config: Config, sandboxUrl: string | undefined): string[] {
  const urls = [config.kling, config.kie, config.digitalHuman]
    .filter((p) => p.mode === 'SANDBOX')
    .map((p) => p.baseUrl ?? sandboxUrl);
  return [...new Set(urls.filter((u): u is string => u !== undefined).map((u) => new URL(u).origin))];
}
