import { DigitalHumanClient } from '@clipwire/providers/digital-human';
import { SANDBOX_DIGITAL_HUMAN_API_KEY } from '../../config.js';
import type { ProviderSlice } from '../slice.js';
import { digitalHumanAdapter } from './adapter.js';
import { buildDigitalHumanAvatar } from './request.js';

/** The digital-human reseller: avatar video, no callbacks. */
export const digitalHuman: ProviderSlice = {
  provider: 'DIGITAL_HUMAN',
  slug: 'digital-human',
  settings: (config) => config.digitalHuman,
  simulator: () => ({ digitalHuman: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY } }),
  adapters: (config, { mode, options }) => [
    digitalHumanAdapter(new DigitalHumanClient({ ...options, apiKey: config.digitalHuman.auth.apiKey }), mode),
  ],
  avatarVideo: buildDigitalHumanAvatar,
};
