import {
  DIGITAL_HUMAN_TEXT_MAX,
  KIE_PROMPT_MAX,
  KIE_SEED_MAX,
  KIE_SEED_MIN,
  KLING_AVATAR_PROMPT_MAX,
  KLING_SOUND_PROMPT_MAX,
  type Provider,
  type TaskKind,
} from '@clipwire/schema';
import type { LongTextSpec, MediaSpec, TextSpec } from './bound';

/*
 * The new-task form's fields, one row each: what the sections render. The limits come from
 * @clipwire/schema, the same values the API checks against.
 */

/** The line under each capability and provider card. */
export const KIND_SUB: Record<TaskKind, string> = {
  AVATAR_VIDEO: 'Portrait + speech → lip-synced talking video',
  VIDEO_SOUND: 'Video → generated sound effects and music',
};
export const PROVIDER_SUB: Record<Provider, string> = {
  KLING: 'Avatar std / pro',
  KIE: 'InfiniteTalk from audio, 480p / 720p',
  DIGITAL_HUMAN: 'Audio, cloned voice or stock voice',
};

export const KLING_VOICES = [
  ['audio', 'Audio file or URL', ''],
  ['audioId', 'Kling TTS audio id', ''],
] as const;
export const KLING_MODES = [
  ['STD', 'Standard (cost-effective)'],
  ['PRO', 'Professional (higher quality)'],
] as const;
export const SANDBOX_OUTCOME_OPTIONS = [
  ['NONE', 'As usual'],
  ['FAIL', 'Fail (the provider refuses or fails it, with its code)'],
  ['SLOW', 'Slow (5 times longer)'],
  ['LOST_CALLBACK', 'Lost callback (polling finishes it)'],
] as const;
export const KIE_RESOLUTIONS = [
  ['RES_480P', '480p'],
  ['RES_720P', '720p'],
] as const;
export const DH_AVATARS = [
  ['image', 'An image', ''],
  ['video', 'A video', ''],
] as const;
export const DH_VOICES = [
  ['audio', 'Driving audio', 'The avatar speaks this recording'],
  ['clone', 'Cloned voice', 'Clone a voice sample, speak a text'],
  ['stock', 'Stock voice', 'Speak a text with a stock voice'],
] as const;
export const SOUND_SOURCES = [
  ['video', 'A video file or URL', ''],
  ['videoId', 'A Kling-generated video id', ''],
] as const;

const VIDEO_ACCEPT = 'video/mp4,video/quicktime,.mp4,.mov';
const SPEECH_ACCEPT = 'audio/*,.mp3,.wav,.m4a,.aac';
const LANGUAGE_HINT = 'A language code, e.g. en or cn.';
const SPEECH_TEXT_HINT = `At most ${DIGITAL_HUMAN_TEXT_MAX} characters.`;

export const MEDIA = {
  klingImage: {
    field: 'image',
    name: 'image',
    legend: 'Portrait image',
    kind: 'image',
    accept: 'image/png,image/jpeg',
    hint: 'jpg or png, ≤ 10 MB, each side ≥ 300 px, aspect between 1:2.5 and 2.5:1.',
  },
  klingAudio: {
    field: 'audio',
    name: 'audio',
    legend: 'Speech audio',
    kind: 'audio',
    accept: 'audio/mpeg,audio/wav,audio/x-wav,audio/mp4,audio/aac,audio/x-m4a,.mp3,.wav,.m4a,.aac',
    hint: 'mp3, wav, m4a or aac, ≤ 5 MB, 2–300 s.',
  },
  kieImage: {
    field: 'image',
    name: 'image',
    legend: 'Portrait image',
    kind: 'image',
    accept: 'image/png,image/jpeg,image/webp',
    hint: 'jpeg, png or webp, ≤ 10 MB.',
  },
  kieAudio: {
    field: 'audio',
    name: 'audio',
    legend: 'Speech audio',
    kind: 'audio',
    accept: 'audio/*,.mp3,.wav,.aac,.m4a,.ogg',
    hint: 'mp3, wav, aac, m4a or ogg, ≤ 10 MB.',
  },
  dhImage: {
    field: 'image',
    name: 'image',
    legend: 'Portrait image',
    kind: 'image',
    accept: 'image/png,image/jpeg,image/webp',
    hint: 'jpeg, png or webp.',
  },
  dhVideo: {
    field: 'video',
    name: 'video',
    legend: 'Avatar video',
    kind: 'video',
    accept: VIDEO_ACCEPT,
    hint: 'mp4 or mov.',
  },
  dhAudio: {
    field: 'audio',
    name: 'audio',
    legend: 'Speech audio',
    kind: 'audio',
    accept: SPEECH_ACCEPT,
    hint: 'The speech that drives the avatar.',
  },
  cloneAudio: {
    field: 'cloneAudio',
    name: 'digitalHuman.cloneVoice.audio',
    legend: 'Voice sample',
    kind: 'audio',
    accept: SPEECH_ACCEPT,
    hint: 'At least 20 s of clear speech.',
  },
  soundVideo: {
    field: 'video',
    name: 'video',
    legend: 'Video',
    kind: 'video',
    accept: VIDEO_ACCEPT,
    hint: 'mp4 or mov, ≤ 100 MB, 3–20 s.',
  },
} satisfies Record<string, MediaSpec>;

export const TEXT = {
  klingAudioId: {
    field: 'klingAudioId',
    name: 'kling.audioId',
    label: 'Kling TTS audio id',
    hint: 'audio_id of a Kling text-to-speech result (2–300 s, made within 30 days).',
    required: true,
  },
  kieSeed: {
    field: 'kieSeed',
    name: 'kie.seed',
    label: 'Seed',
    inputMode: 'numeric',
    hint: `Optional, a whole number from ${KIE_SEED_MIN} to ${KIE_SEED_MAX}.`,
  },
  cloneLanguage: {
    field: 'cloneLanguage',
    name: 'digitalHuman.cloneVoice.language',
    label: 'Language',
    hint: LANGUAGE_HINT,
    required: true,
  },
  stockVoiceEngineId: {
    field: 'stockVoiceEngineId',
    name: 'digitalHuman.stockVoice.voiceEngineId',
    label: 'Voice engine id',
    hint: "The reseller's voice engine.",
    required: true,
  },
  stockAudioId: {
    field: 'stockAudioId',
    name: 'digitalHuman.stockVoice.audioId',
    label: 'Voice id',
    hint: 'The stock voice (audio id) of that engine.',
    required: true,
  },
  stockLanguage: {
    field: 'stockLanguage',
    name: 'digitalHuman.stockVoice.language',
    label: 'Language',
    hint: LANGUAGE_HINT,
    required: true,
  },
  videoId: {
    field: 'videoId',
    name: 'videoId',
    label: 'Kling video id',
    hint: 'video_id of a video Kling generated.',
    required: true,
  },
  externalTaskId: {
    field: 'externalTaskId',
    name: 'externalTaskId',
    label: 'External task id',
    hint: 'Optional: your own id, unique in your tenant (letters, digits and . _ : -). Find the task by it later.',
  },
  webhookUrl: {
    field: 'webhookUrl',
    name: 'webhookUrl',
    label: 'Webhook URL',
    type: 'url',
    hint: "Optional: every event of this task is POSTed here, signed. Default: your tenant's webhook URL.",
  },
} satisfies Record<string, TextSpec>;

export const LONG_TEXT = {
  klingPrompt: {
    field: 'prompt',
    name: 'prompt',
    label: 'Prompt',
    hint: `Optional: actions, emotions, camera. At most ${KLING_AVATAR_PROMPT_MAX} characters.`,
    max: KLING_AVATAR_PROMPT_MAX,
  },
  kiePrompt: {
    field: 'prompt',
    name: 'prompt',
    label: 'Prompt',
    hint: `Required. At most ${KIE_PROMPT_MAX} characters.`,
    max: KIE_PROMPT_MAX,
    required: true,
  },
  cloneText: {
    field: 'cloneText',
    name: 'digitalHuman.cloneVoice.text',
    label: 'Text to speak',
    hint: SPEECH_TEXT_HINT,
    max: DIGITAL_HUMAN_TEXT_MAX,
    required: true,
  },
  stockText: {
    field: 'stockText',
    name: 'digitalHuman.stockVoice.text',
    label: 'Text to speak',
    hint: SPEECH_TEXT_HINT,
    max: DIGITAL_HUMAN_TEXT_MAX,
    required: true,
  },
  soundEffectPrompt: {
    field: 'soundEffectPrompt',
    name: 'soundEffectPrompt',
    label: 'Sound effect prompt',
    hint: `Optional, at most ${KLING_SOUND_PROMPT_MAX} characters.`,
    max: KLING_SOUND_PROMPT_MAX,
  },
  bgmPrompt: {
    field: 'bgmPrompt',
    name: 'bgmPrompt',
    label: 'Background music prompt',
    hint: `Optional, at most ${KLING_SOUND_PROMPT_MAX} characters.`,
    max: KLING_SOUND_PROMPT_MAX,
  },
} satisfies Record<string, LongTextSpec>;
