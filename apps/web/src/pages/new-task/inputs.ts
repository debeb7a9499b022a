import { toMediaInput } from '../../components/MediaField';
import type { CreateAvatarVideoMutation, CreateVideoSoundMutation } from '../../documents';
import type { VariablesOf } from '../../graphql';
import type { Errors, FormState } from './state';

export type AvatarInput = VariablesOf<typeof CreateAvatarVideoMutation>['input'];
export type SoundInput = VariablesOf<typeof CreateVideoSoundMutation>['input'];

const opt = (s: string): string | undefined => (s.trim() ? s.trim() : undefined);

/** Drops undefined members so the request and the zod check see the same object. */
function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function buildAvatarInput(s: FormState, localErrors: Errors): AvatarInput {
  const common = {
    provider: s.provider,
    externalTaskId: opt(s.externalTaskId),
    webhookUrl: opt(s.webhookUrl),
    sandbox: sandboxOf(s),
  };
  switch (s.provider) {
    case 'KLING':
      return compact({
        ...common,
        image: toMediaInput(s.image),
        audio: s.klingVoice === 'audio' ? toMediaInput(s.audio) : undefined,
        prompt: opt(s.prompt),
        kling: compact({
          mode: s.klingMode,
          watermark: s.klingWatermark,
          audioId: s.klingVoice === 'audioId' ? opt(s.klingAudioId) : undefined,
        }),
      });
    case 'KIE': {
      let seed: number | undefined;
      if (s.kieSeed.trim()) {
        if (/^-?\d+$/.test(s.kieSeed.trim())) seed = Number(s.kieSeed.trim());
        else localErrors['kie.seed'] = 'must be a whole number';
      }
      return compact({
        ...common,
        image: toMediaInput(s.image),
        audio: toMediaInput(s.audio),
        prompt: s.prompt.trim() ? s.prompt : undefined,
        kie: compact({ resolution: s.kieResolution, seed }),
      });
    }
    case 'DIGITAL_HUMAN':
      return compact({
        ...common,
        image: s.dhAvatar === 'image' ? toMediaInput(s.image) : undefined,
        video: s.dhAvatar === 'video' ? toMediaInput(s.video) : undefined,
        audio: s.dhVoice === 'audio' ? toMediaInput(s.audio) : undefined,
        digitalHuman: compact({
          // Only a recording can go without the watermark (the shared schema refuses it otherwise).
          noWatermark: s.dhVoice === 'audio' ? s.dhNoWatermark : undefined,
          cloneVoice:
            s.dhVoice === 'clone'
              ? // Incomplete on purpose when fields are empty: the shared schema names each missing one.
                (compact({
                  audio: toMediaInput(s.cloneAudio),
                  language: s.cloneLanguage.trim(),
                  text: s.cloneText,
                }) as NonNullable<NonNullable<AvatarInput['digitalHuman']>['cloneVoice']>)
              : undefined,
          stockVoice:
            s.dhVoice === 'stock'
              ? {
                  voiceEngineId: s.stockVoiceEngineId.trim(),
                  audioId: s.stockAudioId.trim(),
                  language: s.stockLanguage.trim(),
                  text: s.stockText,
                }
              : undefined,
        }),
      });
  }
}

export function buildSoundInput(s: FormState): SoundInput {
  return compact({
    provider: 'KLING' as const,
    video: s.soundSource === 'video' ? toMediaInput(s.video) : undefined,
    videoId: s.soundSource === 'videoId' ? opt(s.videoId) : undefined,
    soundEffectPrompt: opt(s.soundEffectPrompt),
    bgmPrompt: opt(s.bgmPrompt),
    asmrMode: s.asmrMode,
    externalTaskId: opt(s.externalTaskId),
    webhookUrl: opt(s.webhookUrl),
    sandbox: sandboxOf(s),
  });
}

/** The sandbox outcome asked for, if any (the field is offered only while the provider is in sandbox mode). */
function sandboxOf(s: FormState): { outcome: 'FAIL' | 'SLOW' | 'LOST_CALLBACK' } | undefined {
  return s.sandboxOutcome !== 'NONE' ? { outcome: s.sandboxOutcome } : undefined;
}

/** The GraphQL enums carry the server's internal values (std, 480p): the zod schemas speak those. */
export function avatarForSchema(input: AvatarInput): unknown {
  return {
    ...input,
    ...(input.kling
      ? { kling: { ...input.kling, ...(input.kling.mode ? { mode: input.kling.mode === 'PRO' ? 'pro' : 'std' } : {}) } }
      : {}),
    ...(input.kie
      ? {
          kie: {
            ...input.kie,
            ...(input.kie.resolution ? { resolution: input.kie.resolution === 'RES_720P' ? '720p' : '480p' } : {}),
          },
        }
      : {}),
  };
}
