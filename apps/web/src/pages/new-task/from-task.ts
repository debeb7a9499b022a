import type { Provider, TaskKind } from '@clipwire/schema';
import { emptyMedia, type MediaValue } from '../../components/MediaField';
import { type FormState, initialState } from './state';

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/**
 * The new-task form filled from a task's input as the API shows it ("Run again"). Media given by URL
 * come back as that URL; media that were uploaded or sent inline are not in the input (only their size
 * and type are), so their fields stay empty and are named in `reattach`. The externalTaskId is left
 * empty: a new task needs its own.
 */
export function formFromTask(
  kind: TaskKind,
  provider: Provider,
  input: unknown,
): { state: FormState; reattach: string[] } {
  const i = obj(input);
  const reattach: string[] = [];
  const media = (value: unknown, label: string): MediaValue => {
    const m = obj(value);
    if (typeof m.url === 'string') return { source: 'url', file: null, url: m.url };
    if (m.file || m.base64) reattach.push(label);
    return emptyMedia();
  };
  const s: FormState = { ...initialState(), capability: kind, provider };
  if (kind === 'VIDEO_SOUND') {
    s.video = media(i.video, 'video');
    s.soundSource = i.videoId ? 'videoId' : 'video';
    s.videoId = str(i.videoId);
    s.soundEffectPrompt = str(i.soundEffectPrompt);
    s.bgmPrompt = str(i.bgmPrompt);
    s.asmrMode = i.asmrMode === true;
    return { state: s, reattach };
  }
  s.image = media(i.image, 'image');
  s.video = media(i.video, 'video');
  s.audio = media(i.audio, 'audio');
  s.prompt = str(i.prompt);
  if (provider === 'KLING') {
    const kling = obj(i.kling);
    s.klingMode = kling.mode === 'pro' || kling.mode === 'PRO' ? 'PRO' : 'STD';
    s.klingWatermark = kling.watermark === true;
    s.klingAudioId = str(kling.audioId);
    s.klingVoice = s.klingAudioId ? 'audioId' : 'audio';
  } else if (provider === 'KIE') {
    const kie = obj(i.kie);
    s.kieResolution = kie.resolution === '720p' || kie.resolution === 'RES_720P' ? 'RES_720P' : 'RES_480P';
    s.kieSeed = str(kie.seed);
  } else {
    const dh = obj(i.digitalHuman);
    const voice = obj(dh.voice);
    s.dhAvatar = i.video ? 'video' : 'image';
    s.dhNoWatermark = dh.noWatermark === true;
    if (voice.clone) {
      const clone = obj(voice.clone);
      s.dhVoice = 'clone';
      s.cloneAudio = media(clone.audio, 'voice sample');
      s.cloneLanguage = str(clone.language);
      s.cloneText = str(clone.text);
    } else if (voice.stock) {
      const stock = obj(voice.stock);
      s.dhVoice = 'stock';
      s.stockVoiceEngineId = str(stock.voiceEngineId);
      s.stockAudioId = str(stock.audioId);
      s.stockLanguage = str(stock.language);
      s.stockText = str(stock.text);
    } else s.dhVoice = 'audio';
  }
  return { state: s, reattach };
}
