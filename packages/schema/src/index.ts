export * from './domain.js';
export { mediaInputSchema, type MediaInput } from './inputs/media.js';
export {
  createAvatarVideoInputSchema,
  externalTaskIdSchema,
  klingAvatarOptionsSchema,
  KLING_AVATAR_PROMPT_MAX,
  type CreateAvatarVideoInput,
} from './inputs/avatar.js';
