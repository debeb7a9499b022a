import type { CreateAvatarVideoInput } from '@clipwire/schema';
import { z } from 'zod';
import { storedMediaRef, storedSandboxOutcome, type Draft, type MediaReading, type ProviderDraft } from '../slice.js';
import { KIE_RULES } from './limits.js';

/** A KIE infinitalk/from-audio task's stored request. */
export const kieAvatarRequestSchema = z.object({
  image: storedMediaRef,
  audio: storedMediaRef,
  prompt: z.string(),
  resolution: z.enum(['480p', '720p']),
  seed: z.number().nullable(),
  sandboxOutcome: storedSandboxOutcome,
});
export type KieAvatarRequest = z.infer<typeof kieAvatarRequestSchema>;

export async function buildKieAvatar(input: CreateAvatarVideoInput, media: MediaReading): Promise<ProviderDraft> {
  const kie = { resolution: '480p' as const, ...input.kie };
  const image = await media.read(input.image!, ['input', 'image'], KIE_RULES.image);
  const audio = await media.read(input.audio!, ['input', 'audio'], KIE_RULES.audio);
  const request: Draft<KieAvatarRequest> = {
    image: image!,
    audio: audio!,
    prompt: input.prompt!,
    resolution: kie.resolution,
    seed: kie.seed ?? null,
  };
  return { model: `infinitalk/from-audio-${kie.resolution}`, shown: { kie }, request };
}
