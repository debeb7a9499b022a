export {
  KlingClient,
  type KlingClientOptions,
  type CreateAvatarVideoRequest,
  type GetAvatarVideoRequest,
  type ListAvatarVideosRequest,
  type KlingAvatarAudio,
} from './client.js';
export { type KlingAuth, signKlingJwt, KLING_JWT_TTL_SECONDS } from './auth.js';
export { classifyKlingError } from './errors.js';
export { parseKlingCallback, klingStatusToUnified, type KlingTask, type KlingVideo } from './schemas.js';
