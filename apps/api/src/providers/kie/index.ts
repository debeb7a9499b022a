import { KieClient } from '@clipwire/providers/kie';
import { SANDBOX_KIE_API_KEY } from '../../config.js';
import type { ProviderSlice } from '../slice.js';
import { kieAvatarAdapter } from './adapter.js';
import { buildKieAvatar } from './request.js';

/** KIE.ai: avatar video (infinitalk/from-audio). */
export const kie: ProviderSlice = {
  provider: 'KIE',
  slug: 'kie',
  settings: (config) => config.kie,
  simulator: (config) => ({
    kie: { apiKey: SANDBOX_KIE_API_KEY, ...(config.kie.webhookHmacKey ? { hmacKey: config.kie.webhookHmacKey } : {}) },
  }),
  adapters(config, { mode, options }) {
    const uploadBaseUrl = config.kie.uploadBaseUrl ?? (mode === 'SANDBOX' ? options.baseUrl : undefined);
    const client = new KieClient({
      ...options,
      apiKey: config.kie.auth.apiKey,
      ...(uploadBaseUrl ? { uploadBaseUrl } : {}),
    });
    // Live without a public base URL, KIE cannot fetch our /media links: use its upload API.
    const uploadInputs = mode === 'LIVE' && !config.publicBaseUrl;
    return [kieAvatarAdapter(client, mode, { hmacKey: config.kie.webhookHmacKey, uploadInputs })];
  },
  avatarVideo: buildKieAvatar,
};
