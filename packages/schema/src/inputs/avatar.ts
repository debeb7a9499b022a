import { z } from 'zod';
import { PROVIDERS, type Provider } from '../domain.js';
import {
  exactlyOne,
  externalTaskIdSchema,
  webhookUrlSchema,
  notFor,
  sandboxOptionsSchema,
  type IssueSink,
} from './common.js';
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

/**
 * The avatar-video input's fields, with no provider's rules: what a create on a route (or the tenant's
 * default route) is parsed with before each provider's rules are applied to it (`avatarInputIssues`).
 */
export const avatarVideoFieldsSchema = z
  .object({
    /** Where to run it; with neither this nor `route`, the tenant's default route, else KLING. */
    provider: z.enum(PROVIDERS).optional(),
    /** Providers to try in order (see README, "Routing"); instead of `provider`. */
    route: z.array(z.enum(PROVIDERS)).min(1, 'must name at least one provider').optional(),
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
    if (input.provider !== undefined && input.route !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'give either provider or route, not both' });
    }
    if (input.route && new Set(input.route).size !== input.route.length) {
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'must not name a provider twice' });
    }
  });

export type CreateAvatarVideoInput = z.infer<typeof avatarVideoFieldsSchema>;

/**
 * The avatar-video input as Clipwire takes it. Media limits read from the bytes are checked by the API.
 * Without a route, the rules of its one provider (`provider`, KLING when absent) apply here, so they are
 * reported together with every other field's.
 */
export const createAvatarVideoInputSchema = avatarVideoFieldsSchema.superRefine((input, ctx) => {
  if (input.route !== undefined) return;
  for (const issue of avatarInputIssues(input.provider ?? 'KLING', input, false)) {
    ctx.addIssue({ code: 'custom', ...issue });
  }
});

/** The options block each provider takes, by the input's field name. */
const OPTIONS_OF: Record<Provider, 'kling' | 'kie' | 'digitalHuman'> = {
  KLING: 'kling',
  KIE: 'kie',
  DIGITAL_HUMAN: 'digitalHuman',
};

/**
 * What `provider` refuses in an avatar input (paths relative to the input). Alone (`provider`), a field
 * another provider takes is refused; on a route, each provider simply leaves the others' fields alone,
 * and only an options block for a provider not on the route is refused (see `routeOptionIssues`).
 */
export function avatarInputIssues(
  provider: Provider,
  input: CreateAvatarVideoInput,
  onRoute: boolean,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const sink: IssueSink = { addIssue: ({ path, message }) => issues.push({ path, message }) };
  const check = (values: Record<string, unknown>) => {
    if (!onRoute) notFor(sink, provider, values);
  };
  switch (provider) {
    case 'KLING':
      check({ video: input.video, kie: input.kie, digitalHuman: input.digitalHuman });
      if (!input.image) issues.push({ path: ['image'], message: 'is required' });
      exactlyOne(sink, { audio: input.audio, 'kling.audioId': input.kling?.audioId }, ['audio']);
      if (input.prompt !== undefined && input.prompt.length > KLING_AVATAR_PROMPT_MAX) {
        issues.push({ path: ['prompt'], message: `must be at most ${KLING_AVATAR_PROMPT_MAX} characters for KLING` });
      }
      break;
    case 'KIE':
      check({ video: input.video, kling: input.kling, digitalHuman: input.digitalHuman });
      if (!input.image) issues.push({ path: ['image'], message: 'is required' });
      if (!input.audio) issues.push({ path: ['audio'], message: 'is required' });
      if (!input.prompt?.trim()) issues.push({ path: ['prompt'], message: 'is required for KIE' });
      else if (input.prompt.length > KIE_PROMPT_MAX) {
        issues.push({ path: ['prompt'], message: `must be at most ${KIE_PROMPT_MAX} characters for KIE` });
      }
      break;
    case 'DIGITAL_HUMAN':
      check({ prompt: input.prompt, kling: input.kling, kie: input.kie });
      exactlyOne(sink, { image: input.image, video: input.video }, ['image']);
      exactlyOne(
        sink,
        {
          audio: input.audio,
          'digitalHuman.cloneVoice': input.digitalHuman?.cloneVoice,
          'digitalHuman.stockVoice': input.digitalHuman?.stockVoice,
        },
        ['audio'],
      );
      if (input.sandbox?.outcome === 'LOST_CALLBACK') {
        issues.push({
          path: ['sandbox', 'outcome'],
          message:
            'LOST_CALLBACK does not apply to DIGITAL_HUMAN, which sends no callbacks (polling follows every task)',
        });
      }
      // The reseller takes no_watermark only beside audio_url; a cloned or stock voice is always watermarked.
      if (input.digitalHuman?.noWatermark === true && !input.audio) {
        issues.push({
          path: ['digitalHuman', 'noWatermark'],
          message:
            'applies only with audio (a driving recording): the reseller always watermarks a cloned or stock voice',
        });
      }
      break;
  }
  return issues;
}

/** On a route: an options block for a provider the route does not name applies nowhere. */
export function routeOptionIssues(
  route: readonly Provider[],
  input: CreateAvatarVideoInput,
): { path: (string | number)[]; message: string }[] {
  return (Object.entries(OPTIONS_OF) as [Provider, 'kling' | 'kie' | 'digitalHuman'][])
    .filter(([provider, field]) => input[field] !== undefined && !route.includes(provider))
    .map(([provider, field]) => ({ path: [field], message: `applies only when ${provider} is on the route` }));
}
