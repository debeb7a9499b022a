import { KLING_SOUND_PROMPT_MAX } from '@clipwire/schema';
import { builder } from '../builder.js';
import { ProviderEnum, SandboxOptions } from './enums.js';
import { MediaInputType } from './media-input.js';

export const CreateVideoSoundInput = builder.inputType('CreateVideoSoundInput', {
  description: 'Kling video-to-audio (POST /v1/audio/video-to-audio). Give exactly one of `video` or `videoId`.',
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, defaultValue: 'KLING' }),
    video: t.field({ type: MediaInputType, description: 'mp4/mov, ≤ 100 MB, 3–20 s (video_url).' }),
    videoId: t.string({ description: 'A Kling-generated video (video_id).' }),
    soundEffectPrompt: t.string({ description: `≤ ${KLING_SOUND_PROMPT_MAX} characters (sound_effect_prompt).` }),
    bgmPrompt: t.string({ description: `≤ ${KLING_SOUND_PROMPT_MAX} characters (bgm_prompt).` }),
    asmrMode: t.boolean({ defaultValue: false, description: 'Richer detail sounds (asmr_mode).' }),
    externalTaskId: t.string({ description: 'Your own id for the task, unique in your tenant.' }),
    webhookUrl: t.string({
      description: 'Where each of this task’s events is POSTed, signed (Standard Webhooks). Default: your tenant’s.',
    }),
    sandbox: t.field({ type: SandboxOptions, description: 'Sandbox mode only: an outcome on demand.' }),
  }),
});
