import type { CreateAvatarVideoInput } from '@clipwire/schema';
import { z } from 'zod';
import {
  elide,
  storedMediaRef,
  storedSandboxOutcome,
  type Draft,
  type MediaReading,
  type ProviderDraft,
} from '../slice.js';
import { DIGITAL_HUMAN_REQUEST_MAX_BYTES, DIGITAL_HUMAN_RULES } from './limits.js';

/** A digital-human task's stored request (/avatar/generation): the avatar and one kind of voice. */
export const digitalHumanRequestSchema = z.object({
  avatar: storedMediaRef,
  voice: z.discriminatedUnion('type', [
    z.object({ type: z.literal('audio'), audio: storedMediaRef }),
    z.object({ type: z.literal('clone'), audio: storedMediaRef, language: z.string(), text: z.string() }),
    z.object({
      type: z.literal('stock'),
      voiceEngineId: z.string(),
      audioId: z.string(),
      language: z.string(),
      text: z.string(),
    }),
  ]),
  noWatermark: z.boolean(),
  sandboxOutcome: storedSandboxOutcome,
});
export type DigitalHumanRequest = z.infer<typeof digitalHumanRequestSchema>;

type Options = NonNullable<CreateAvatarVideoInput['digitalHuman']>;

export async function buildDigitalHumanAvatar(
  input: CreateAvatarVideoInput,
  media: MediaReading,
): Promise<ProviderDraft> {
  const dh = input.digitalHuman ?? { noWatermark: false };
  // The reseller takes an image or a video as the avatar (≤ 100 MB of media in all).
  const avatar = input.image
    ? await media.read(input.image, ['input', 'image'], DIGITAL_HUMAN_RULES.avatarImage)
    : await media.read(input.video!, ['input', 'video'], DIGITAL_HUMAN_RULES.avatarVideo);
  let voice: Draft<DigitalHumanRequest>['voice'];
  if (input.audio) {
    const audio = await media.read(input.audio, ['input', 'audio'], DIGITAL_HUMAN_RULES.drivingAudio);
    voice = { type: 'audio', audio: audio! };
  } else if (dh.cloneVoice) {
    const audio = await media.read(
      dh.cloneVoice.audio,
      ['input', 'digitalHuman', 'cloneVoice', 'audio'],
      DIGITAL_HUMAN_RULES.voiceAudio,
    );
    voice = { type: 'clone', audio: audio!, language: dh.cloneVoice.language, text: dh.cloneVoice.text };
  } else {
    voice = { type: 'stock', ...dh.stockVoice! };
  }
  // Each file may be up to 100 MB, but the reseller refuses a request carrying more than 100 MB in all.
  if (media.totalBytes() > DIGITAL_HUMAN_REQUEST_MAX_BYTES) {
    const path = input.audio
      ? ['input', 'audio']
      : dh.cloneVoice
        ? ['input', 'digitalHuman', 'cloneVoice', 'audio']
        : null;
    media.refuse(
      path ?? ['input', input.image ? 'image' : 'video'],
      "the avatar and the audio together must be at most 100 MB (the reseller's limit per request)",
    );
  }
  const request: Draft<DigitalHumanRequest> = { avatar: avatar!, voice, noWatermark: dh.noWatermark };
  return {
    model: `digital-human-${voice.type}`,
    shown: { digitalHuman: { noWatermark: dh.noWatermark, voice: describeVoice(dh) } },
    request,
  };
}

function describeVoice(dh: Options): Record<string, unknown> {
  if (dh.cloneVoice)
    return { clone: { audio: elide(dh.cloneVoice.audio), language: dh.cloneVoice.language, text: dh.cloneVoice.text } };
  if (dh.stockVoice) return { stock: dh.stockVoice };
  return { audio: true };
}
