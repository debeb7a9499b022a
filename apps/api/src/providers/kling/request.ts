import type { CreateAvatarVideoInput, CreateVideoSoundInput } from '@clipwire/schema';
import { z } from 'zod';
import {
  elide,
  storedMediaRef,
  storedSandboxOutcome,
  type Draft,
  type MediaReading,
  type ProviderDraft,
} from '../slice.js';
import { KLING_RULES } from './limits.js';

/** A Kling avatar task's stored request (POST /v1/videos/avatar/image2video). */
export const klingAvatarRequestSchema = z.object({
  image: storedMediaRef,
  sound: storedMediaRef.nullable(),
  audioId: z.string().nullable(),
  prompt: z.string().nullable(),
  mode: z.enum(['std', 'pro']),
  watermark: z.boolean(),
  sandboxOutcome: storedSandboxOutcome,
});
export type KlingAvatarRequest = z.infer<typeof klingAvatarRequestSchema>;

/** A Kling video-to-audio task's stored request (POST /v1/audio/video-to-audio). */
export const klingVideoSoundRequestSchema = z.object({
  video: storedMediaRef.nullable(),
  videoId: z.string().nullable(),
  soundEffectPrompt: z.string().nullable(),
  bgmPrompt: z.string().nullable(),
  asmrMode: z.boolean(),
  sandboxOutcome: storedSandboxOutcome,
});
export type KlingVideoSoundRequest = z.infer<typeof klingVideoSoundRequestSchema>;

export async function buildKlingAvatar(input: CreateAvatarVideoInput, media: MediaReading): Promise<ProviderDraft> {
  const kling = { audioId: undefined, mode: 'std' as const, watermark: false, ...input.kling };
  const image = await media.read(input.image!, ['input', 'image'], KLING_RULES.avatarImage);
  const sound = input.audio ? await media.read(input.audio, ['input', 'audio'], KLING_RULES.avatarAudio) : null;
  const request: Draft<KlingAvatarRequest> = {
    image: image!,
    sound,
    audioId: kling.audioId ?? null,
    prompt: input.prompt ?? null,
    mode: kling.mode,
    watermark: kling.watermark,
  };
  return { model: `kling-avatar-${kling.mode}`, shown: { kling }, request };
}

export async function buildKlingVideoSound(input: CreateVideoSoundInput, media: MediaReading): Promise<ProviderDraft> {
  const video = input.video ? await media.read(input.video, ['input', 'video'], KLING_RULES.videoToAudioVideo) : null;
  const request: Draft<KlingVideoSoundRequest> = {
    video,
    videoId: input.videoId ?? null,
    soundEffectPrompt: input.soundEffectPrompt ?? null,
    bgmPrompt: input.bgmPrompt ?? null,
    asmrMode: input.asmrMode,
  };
  return {
    model: 'kling-video-to-audio',
    shown: {
      video: elide(input.video),
      videoId: input.videoId,
      soundEffectPrompt: input.soundEffectPrompt,
      bgmPrompt: input.bgmPrompt,
      asmrMode: input.asmrMode,
    },
    request,
  };
}
