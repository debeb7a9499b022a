import type { Errors, FormState } from './state';

const FIELDS = [
  'provider',
  'image',
  'video',
  'audio',
  'prompt',
  'externalTaskId',
  'webhookUrl',
  'kling.audioId',
  'kling.mode',
  'kling.watermark',
  'kie.resolution',
  'kie.seed',
  'digitalHuman.noWatermark',
  'digitalHuman.cloneVoice.audio',
  'digitalHuman.cloneVoice.language',
  'digitalHuman.cloneVoice.text',
  'digitalHuman.stockVoice.voiceEngineId',
  'digitalHuman.stockVoice.audioId',
  'digitalHuman.stockVoice.language',
  'digitalHuman.stockVoice.text',
  'videoId',
  'soundEffectPrompt',
  'bgmPrompt',
  'asmrMode',
  'sandbox',
  'sandbox.outcome',
];

/** The form field an issue belongs to: the longest known prefix of its path (`input.image.url` → `image`). */
export function fieldFor(path: readonly (string | number | symbol)[], s: FormState): string {
  const parts = path.map(String);
  if (parts[0] === 'input') parts.shift();
  let key = parts.join('.');
  for (let n = parts.length; n > 0; n--) {
    const candidate = parts.slice(0, n).join('.');
    if (FIELDS.includes(candidate)) {
      key = candidate;
      break;
    }
  }
  // "Give one of …" issues sit on the default alternative; show them on the one the user picked.
  if (s.capability === 'AVATAR_VIDEO') {
    if (key === 'audio' && s.provider === 'KLING' && s.klingVoice === 'audioId') return 'kling.audioId';
    if (key === 'image' && s.provider === 'DIGITAL_HUMAN' && s.dhAvatar === 'video') return 'video';
    if (key === 'audio' && s.provider === 'DIGITAL_HUMAN' && s.dhVoice === 'clone')
      return 'digitalHuman.cloneVoice.audio';
    if (key === 'audio' && s.provider === 'DIGITAL_HUMAN' && s.dhVoice === 'stock')
      return 'digitalHuman.stockVoice.text';
  } else if (key === 'video' && s.soundSource === 'videoId') return 'videoId';
  return key || 'form';
}

export function addIssue(errors: Errors, key: string, message: string): void {
  errors[key] = errors[key] ? `${errors[key]}; ${message}` : message;
}

export const FIELD_NAMES: Record<string, string> = {
  image: 'Portrait image',
  video: 'Video',
  audio: 'Speech audio',
  prompt: 'Prompt',
  externalTaskId: 'External task id',
  webhookUrl: 'Webhook URL',
  'kling.audioId': 'Kling TTS audio id',
  'kie.seed': 'Seed',
  'digitalHuman.noWatermark': 'No watermark',
  'digitalHuman.cloneVoice.audio': 'Voice sample',
  'digitalHuman.cloneVoice.language': 'Language',
  'digitalHuman.cloneVoice.text': 'Text to speak',
  'digitalHuman.stockVoice.voiceEngineId': 'Voice engine id',
  'digitalHuman.stockVoice.audioId': 'Voice id',
  'digitalHuman.stockVoice.language': 'Language',
  'digitalHuman.stockVoice.text': 'Text to speak',
  videoId: 'Kling video id',
  soundEffectPrompt: 'Sound effect prompt',
  bgmPrompt: 'Background music prompt',
  sandbox: 'Sandbox outcome',
  'sandbox.outcome': 'Sandbox outcome',
};
