import { KlingClient } from '@clipwire/providers/kling';
import { SANDBOX_KLING_API_KEY } from '../../config.js';
import type { ProviderSlice } from '../slice.js';
import { klingAvatarAdapter, klingVideoSoundAdapter } from './adapter.js';
import { buildKlingAvatar, buildKlingVideoSound } from './request.js';

/** Kling: avatar video and video-to-audio, one client for both. */
export const kling: ProviderSlice = {
  provider: 'KLING',
  slug: 'kling',
  settings: (config) => config.kling,
  // Callbacks signed as Kling signs them once signing is turned on, when it is configured here.
  simulator: (config) => ({
    kling: {
      apiKey: SANDBOX_KLING_API_KEY,
      timing: {
        processingAfterMs: config.simulator.processingAfterMs,
        succeedAfterMs: config.simulator.succeedAfterMs,
      },
      ...(config.klingWebhookSecret ? { webhookSecret: config.klingWebhookSecret } : {}),
    },
  }),
  adapters(config, { mode, options }) {
    const client = new KlingClient({ ...options, auth: config.kling.auth });
    return [
      klingAvatarAdapter(client, mode, config.klingWebhookSecret),
      klingVideoSoundAdapter(client, mode, config.klingWebhookSecret),
    ];
  },
  avatarVideo: buildKlingAvatar,
  videoSound: buildKlingVideoSound,
};
