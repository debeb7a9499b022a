export * from './domain.js';
export { isBlobLike, mediaInputSchema, type MediaInput } from './inputs/media.js';
export {
  EXTERNAL_TASK_ID_MAX_LENGTH,
  externalTaskIdSchema,
  webhookUrlSchema,
  sandboxOptionsSchema,
  SANDBOX_OUTCOMES,
  type SandboxOutcome,
} from './inputs/common.js';
export {
  avatarInputIssues,
  avatarVideoFieldsSchema,
  routeOptionIssues,
  createAvatarVideoInputSchema,
  digitalHumanOptionsSchema,
  kieAvatarOptionsSchema,
  klingAvatarOptionsSchema,
  DIGITAL_HUMAN_TEXT_MAX,
  KIE_PROMPT_MAX,
  KIE_SEED_MAX,
  KIE_SEED_MIN,
  KLING_AVATAR_PROMPT_MAX,
  type CreateAvatarVideoInput,
} from './inputs/avatar.js';
export {
  createVideoSoundInputSchema,
  KLING_SOUND_PROMPT_MAX,
  type CreateVideoSoundInput,
} from './inputs/video-sound.js';
