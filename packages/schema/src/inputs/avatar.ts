import { z } from 'zod';
import { mediaInputSchema } from './media.js';

export const externalTaskIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9._:-]+$/, 'may contain only letters, digits and . _ : -');

export const KLING_AVATAR_PROMPT_MAX = 2500;

export const klingAvatarOptionsSchema = z.object({
  mode: z.enum(['std', 'pro']).default('std'),
  watermark: z.boolean().default(false),
});

/** The avatar-video input as Clipwire takes it, before any provider-specific mapping. */
export const createAvatarVideoInputSchema = z
  .object({
    provider: z.enum(['KLING']).default('KLING'),
    image: mediaInputSchema,
    audio: mediaInputSchema.optional(),
    audioId: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters').optional(),
    prompt: z
      .string()
      .max(KLING_AVATAR_PROMPT_MAX, `must be at most ${KLING_AVATAR_PROMPT_MAX} characters`)
      .optional(),
    externalTaskId: externalTaskIdSchema.optional(),
    kling: klingAvatarOptionsSchema.default({ mode: 'std', watermark: false }),
  })
  .superRefine((input, ctx) => {
    if ((input.audio === undefined) === (input.audioId === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of audio or audioId', path: ['audio'] });
    }
  });

export type CreateAvatarVideoInput = z.infer<typeof createAvatarVideoInputSchema>;
