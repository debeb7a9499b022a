import { z } from 'zod';
import { PROVIDERS } from '../domain.js';
import { exactlyOne, externalTaskIdSchema, webhookUrlSchema, notFor, sandboxOptionsSchema } from './common.js';
import { mediaInputSchema } from './media.js';

export const KLING_AVATAR_PROMPT_MAX = 2500;
export const KIE_PROMPT_MAX = 5000;
export const KIE_SEED_MIN = 10_000;
export const KIE_SEED_MAX = 1_000_000;
/** The reseller documents no limit on spoken text; this bounds what we forward. */
export const DIGITAL_HUMAN_TEXT_MAX = 5000;

export const klingAvatarOptionsSchema = z.object({
  /** A Kling TTS audio id (audio_id), instead of `audio`. */
  audioId: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters').optional(),
  mode: z.enum(['std', 'pro']).default('std'),
  watermark: z.boolean().default(false),
});

export const kieAvatarOptionsSchema = z.object({
  resolution: z.enum(['480p', '720p']).default('480p'),
  seed: z
    .number()
    .int('must be a whole number')
    .min(KIE_SEED_MIN, `must be between ${KIE_SEED_MIN} and ${KIE_SEED_MAX}`)
    .max(KIE_SEED_MAX, `must be between ${KIE_SEED_MIN} and ${KIE_SEED_MAX}`)
    .optional(),
});

const language = z
  .string()
  .min(2, 'must be a language code such as en or cn')
  .max(16, 'must be a language code such as en or cn');
const spokenText = z
  .string()
  .min(1, 'must not be empty')
  .max(DIGITAL_HUMAN_TEXT_MAX, `must be at most ${DIGITAL_HUMAN_TEXT_MAX} characters`);

export const digitalHumanOptionsSchema = z.object({
  /** no_watermark: only with `audio` (the reseller watermarks cloned and stock voices whatever it is told). */
  noWatermark: z.boolean().default(false),
  /** create_voice: clone the voice of `audio` (≥ 20 s of speech) and speak `text`. */
  cloneVoice: z.object({ audio: mediaInputSchema, language, text: spokenText }).optional(),
  /** use_voice: speak `text` with a stock voice. */
  stockVoice: z
    .object({
      voiceEngineId: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
      audioId: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
      language,
      text: spokenText,
    })
    .optional(),
});

/** The avatar-video input as Clipwire takes it. Media limits read from the bytes are checked by the API. */
export const createAvatarVideoInputSchema = z
  .object({
    provider: z.enum(PROVIDERS).default('KLING'),
    /** The portrait. */
    image: mediaInputSchema.optional(),
    /** DIGITAL_HUMAN only: the avatar as a video instead of an image. */
    video: mediaInputSchema.optional(),
    /** The speech that drives the avatar. */
    audio: mediaInputSchema.optional(),
    prompt: z.string().optional(),
    externalTaskId: externalTaskIdSchema.optional(),
    webhookUrl: webhookUrlSchema.optional(),
    kling: klingAvatarOptionsSchema.optional(),
    kie: kieAvatarOptionsSchema.optional(),
    digitalHuman: digitalHumanOptionsSchema.optional(),
    /** Sandbox mode only: the outcome the simulator is asked for. */
    sandbox: sandboxOptionsSchema.optional(),
  })
  .superRefine((input, ctx) => {
    switch (input.provider) {
      case 'KLING':
        notFor(ctx, 'KLING', { video: input.video, kie: input.kie, digitalHuman: input.digitalHuman });
        if (!input.image) ctx.addIssue({ code: 'custom', path: ['image'], message: 'is required' });
        exactlyOne(ctx, { audio: input.audio, 'kling.audioId': input.kling?.audioId }, ['audio']);
        if (input.prompt !== undefined && input.prompt.length > KLING_AVATAR_PROMPT_MAX) {
          ctx.addIssue({
            code: 'custom',
            path: ['prompt'],
            message: `must be at most ${KLING_AVATAR_PROMPT_MAX} characters for KLING`,
          });
        }
        break;
      case 'KIE':
        notFor(ctx, 'KIE', { video: input.video, kling: input.kling, digitalHuman: input.digitalHuman });
        if (!input.image) ctx.addIssue({ code: 'custom', path: ['image'], message: 'is required' });
        if (!input.audio) ctx.addIssue({ code: 'custom', path: ['audio'], message: 'is required' });
        if (!input.prompt?.trim()) ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'is required for KIE' });
        else if (input.prompt.length > KIE_PROMPT_MAX) {
          ctx.addIssue({
            code: 'custom',
            path: ['prompt'],
            message: `must be at most ${KIE_PROMPT_MAX} characters for KIE`,
          });
        }
        break;
      case 'DIGITAL_HUMAN':
        notFor(ctx, 'DIGITAL_HUMAN', { prompt: input.prompt, kling: input.kling, kie: input.kie });
        exactlyOne(ctx, { image: input.image, video: input.video }, ['image']);
        exactlyOne(
          ctx,
          {
            audio: input.audio,
            'digitalHuman.cloneVoice': input.digitalHuman?.cloneVoice,
            'digitalHuman.stockVoice': input.digitalHuman?.stockVoice,
          },
          ['audio'],
        );
        if (input.sandbox?.outcome === 'LOST_CALLBACK') {
          ctx.addIssue({
            code: 'custom',
            path: ['sandbox', 'outcome'],
            message:
              'LOST_CALLBACK does not apply to DIGITAL_HUMAN, which sends no callbacks (polling follows every task)',
          });
        }
        // The reseller takes no_watermark only beside audio_url; a cloned or stock voice is always watermarked.
        if (input.digitalHuman?.noWatermark === true && !input.audio) {
          ctx.addIssue({
            code: 'custom',
            path: ['digitalHuman', 'noWatermark'],
            message:
              'applies only with audio (a driving recording): the reseller always watermarks a cloned or stock voice',
          });
        }
        break;
    }
  });

export type CreateAvatarVideoInput = z.infer<typeof createAvatarVideoInputSchema>;
