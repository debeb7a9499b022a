import { z } from 'zod';
import { exactlyOne, externalTaskIdSchema, sandboxOptionsSchema, webhookUrlSchema } from './common.js';
import { mediaInputSchema } from './media.js';

export const KLING_SOUND_PROMPT_MAX = 200;

const soundPrompt = z.string().max(KLING_SOUND_PROMPT_MAX, `must be at most ${KLING_SOUND_PROMPT_MAX} characters`);

/** Video → generated sound effects and music (Kling video-to-audio). */
export const createVideoSoundInputSchema = z
  .object({
    provider: z.enum(['KLING']).default('KLING'),
    /** The video to add sound to: mp4 or mov, ≤ 100 MB, 3–20 s. */
    video: mediaInputSchema.optional(),
    /** A Kling-generated video's id (video_id), instead of `video`. */
    videoId: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters').optional(),
    soundEffectPrompt: soundPrompt.optional(),
    bgmPrompt: soundPrompt.optional(),
    asmrMode: z.boolean().default(false),
    externalTaskId: externalTaskIdSchema.optional(),
    webhookUrl: webhookUrlSchema.optional(),
    /** Sandbox mode only: the outcome the simulator is asked for. */
    sandbox: sandboxOptionsSchema.optional(),
  })
  .superRefine((input, ctx) => exactlyOne(ctx, { video: input.video, videoId: input.videoId }, ['video']));

export type CreateVideoSoundInput = z.infer<typeof createVideoSoundInputSchema>;
