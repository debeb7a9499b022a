import {
  DIGITAL_HUMAN_TEXT_MAX,
  KIE_PROMPT_MAX,
  KIE_SEED_MAX,
  KIE_SEED_MIN,
  KLING_AVATAR_PROMPT_MAX,
} from '@clipwire/schema';
import { builder } from '../builder.js';
import { ProviderEnum, SandboxOptions } from './enums.js';
import { MediaInputType } from './media-input.js';

const KlingModeEnum = builder.enumType('KlingMode', {
  values: {
    STD: { value: 'std', description: 'Standard: cost-effective' },
    PRO: { value: 'pro', description: 'Professional: higher quality' },
  } as const,
});

const KieResolutionEnum = builder.enumType('KieResolution', {
  values: { RES_480P: { value: '480p' }, RES_720P: { value: '720p' } } as const,
});

const KlingAvatarOptions = builder.inputType('KlingAvatarOptions', {
  description: 'Kling avatar (POST /v1/videos/avatar/image2video).',
  fields: (t) => ({
    audioId: t.string({
      description: 'A Kling TTS audio id (audio_id, 2–300 s, made within 30 days), instead of `audio`.',
    }),
    mode: t.field({ type: KlingModeEnum, defaultValue: 'std', description: 'mode' }),
    watermark: t.boolean({
      defaultValue: false,
      description: 'Also produce a watermarked video (watermark_info.enabled).',
    }),
  }),
});

const KieAvatarOptions = builder.inputType('KieAvatarOptions', {
  description: 'KIE.ai infinitalk/from-audio.',
  fields: (t) => ({
    resolution: t.field({ type: KieResolutionEnum, defaultValue: '480p' }),
    seed: t.int({ description: `${KIE_SEED_MIN}–${KIE_SEED_MAX}` }),
  }),
});

const CloneVoiceInput = builder.inputType('DigitalHumanCloneVoice', {
  description: `create_voice: clone the voice of \`audio\` (≥ 20 s of speech) and speak \`text\` (≤ ${DIGITAL_HUMAN_TEXT_MAX} characters).`,
  fields: (t) => ({
    audio: t.field({ type: MediaInputType, required: true }),
    language: t.string({ required: true, description: 'e.g. en, cn' }),
    text: t.string({ required: true }),
  }),
});

const StockVoiceInput = builder.inputType('DigitalHumanStockVoice', {
  description: 'use_voice: speak `text` with a stock voice.',
  fields: (t) => ({
    voiceEngineId: t.string({ required: true }),
    audioId: t.string({ required: true }),
    language: t.string({ required: true }),
    text: t.string({ required: true }),
  }),
});

const DigitalHumanOptions = builder.inputType('DigitalHumanAvatarOptions', {
  description:
    'The digital-human reseller (/avatar/generation). Give exactly one voice: `audio`, `cloneVoice` or `stockVoice`.',
  fields: (t) => ({
    noWatermark: t.boolean({
      defaultValue: false,
      description:
        'The clean video without the watermark (no_watermark). Only with `audio`: a cloned or stock voice is always watermarked, so true beside one is a ValidationError.',
    }),
    cloneVoice: t.field({ type: CloneVoiceInput }),
    stockVoice: t.field({ type: StockVoiceInput }),
  }),
});

export const CreateAvatarVideoInput = builder.inputType('CreateAvatarVideoInput', {
  fields: (t) => ({
    provider: t.field({
      type: ProviderEnum,
      description:
        'Where to run the task. With neither this nor `route`: your default route (setDefaultRoute), else KLING.',
    }),
    route: t.field({
      type: [ProviderEnum],
      description:
        'Providers to try in order, instead of `provider`: the task goes to the first that can take it, and moves on only when a provider provably did not accept it (README, "Routing"). Each provider’s options (`kling`, `kie`, `digitalHuman`) apply only there.',
    }),
    image: t.field({
      type: MediaInputType,
      description:
        'The portrait. KLING: jpg/png ≤ 10 MB, sides ≥ 300 px, aspect 1:2.5–2.5:1. KIE: jpeg/png/webp ≤ 10 MB.',
    }),
    video: t.field({
      type: MediaInputType,
      description: 'DIGITAL_HUMAN only: the avatar as an mp4/mov video instead of an image.',
    }),
    audio: t.field({
      type: MediaInputType,
      description: 'The speech. KLING (sound_file): mp3/wav/m4a/aac ≤ 5 MB, 2–300 s. KIE: mp3/wav/aac/m4a/ogg ≤ 10 MB.',
    }),
    prompt: t.string({
      description: `KLING: optional, ≤ ${KLING_AVATAR_PROMPT_MAX} characters. KIE: required, ≤ ${KIE_PROMPT_MAX}.`,
    }),
    externalTaskId: t.string({
      description: 'Your own id for the task, unique in your tenant; find the task by it later.',
    }),
    webhookUrl: t.string({
      description: 'Where each of this task’s events is POSTed, signed (Standard Webhooks). Default: your tenant’s.',
    }),
    kling: t.field({ type: KlingAvatarOptions }),
    kie: t.field({ type: KieAvatarOptions }),
    digitalHuman: t.field({ type: DigitalHumanOptions }),
    sandbox: t.field({ type: SandboxOptions, description: 'Sandbox mode only: an outcome on demand.' }),
  }),
});
