import { createContext, useContext } from 'react';
import type { Provider, TaskKind } from '@clipwire/schema';
import { emptyMedia, type MediaValue } from '../../components/MediaField';

/** Everything the new-task form holds, for every capability and provider at once. */
export interface FormState {
  capability: TaskKind;
  provider: Provider;
  image: MediaValue;
  video: MediaValue;
  audio: MediaValue;
  prompt: string;
  externalTaskId: string;
  webhookUrl: string;
  // KLING avatar
  klingVoice: 'audio' | 'audioId';
  klingAudioId: string;
  klingMode: 'STD' | 'PRO';
  klingWatermark: boolean;
  // KIE
  kieResolution: 'RES_480P' | 'RES_720P';
  kieSeed: string;
  // DIGITAL_HUMAN
  dhAvatar: 'image' | 'video';
  dhVoice: 'audio' | 'clone' | 'stock';
  dhNoWatermark: boolean;
  cloneAudio: MediaValue;
  cloneLanguage: string;
  cloneText: string;
  stockVoiceEngineId: string;
  stockAudioId: string;
  stockLanguage: string;
  stockText: string;
  // VIDEO_SOUND
  soundSource: 'video' | 'videoId';
  videoId: string;
  soundEffectPrompt: string;
  bgmPrompt: string;
  asmrMode: boolean;
  // Sandbox mode only
  sandboxOutcome: 'NONE' | 'FAIL' | 'SLOW' | 'LOST_CALLBACK';
}

export const initialState = (): FormState => ({
  capability: 'AVATAR_VIDEO',
  provider: 'KLING',
  image: emptyMedia(),
  video: emptyMedia(),
  audio: emptyMedia(),
  prompt: '',
  externalTaskId: '',
  webhookUrl: '',
  klingVoice: 'audio',
  klingAudioId: '',
  klingMode: 'STD',
  klingWatermark: false,
  kieResolution: 'RES_480P',
  kieSeed: '',
  dhAvatar: 'image',
  dhVoice: 'audio',
  dhNoWatermark: false,
  cloneAudio: emptyMedia(),
  cloneLanguage: '',
  cloneText: '',
  stockVoiceEngineId: '',
  stockAudioId: '',
  stockLanguage: '',
  stockText: '',
  soundSource: 'video',
  videoId: '',
  soundEffectPrompt: '',
  bgmPrompt: '',
  asmrMode: false,
  sandboxOutcome: 'NONE',
});

/** The form's keys whose value is exactly of type V (`string` leaves out the literal unions). */
export type KeysOf<V> = {
  [K in keyof FormState]-?: [FormState[K]] extends [V] ? ([V] extends [FormState[K]] ? K : never) : never;
}[keyof FormState];

/** The keys whose value is one of a few words: radio choices and selects. */
export type WordKey = Exclude<
  { [K in keyof FormState]-?: FormState[K] extends string ? K : never }[keyof FormState],
  KeysOf<string>
>;

/** Messages by field path (`image`, `kie.seed`, …). */
export type Errors = Record<string, string>;

/** What the form's sections read and write. */
export interface FormApi {
  s: FormState;
  /** Sets a value; `clear` names the field whose error the change answers. */
  set<K extends keyof FormState>(key: K, value: FormState[K], clear?: string): void;
  errors: Errors;
  /** Upload progress (0–1) by field path, while a request is on its way. */
  progress: Record<string, number>;
}

export const FormContext = createContext<FormApi | null>(null);

export function useForm(): FormApi {
  const form = useContext(FormContext);
  if (!form) throw new Error('useForm outside the new-task form');
  return form;
}
