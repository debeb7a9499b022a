export {
  KlingClient,
  type KlingClientOptions,
  type CreateAvatarVideoRequest,
  type GetAvatarVideoRequest,
  type ListAvatarVideosRequest,
  type KlingAvatarAudio,
  type CreateVideoToAudioRequest,
  type GetVideoToAudioRequest,
  type ListVideoToAudioRequest,
  type KlingVideoToAudioSource,
} from './client.js';
export { type KlingAuth, signKlingJwt, KLING_JWT_TTL_SECONDS } from './auth.js';
export { classifyKlingError } from './errors.js';
export { klingCallbackHeaders } from './signature.js';
export {
  parseKlingCallback,
  klingStatusToUnified,
  type KlingTask,
  type KlingVideo,
  type KlingAudio,
  type KlingParentVideo,
} from './schemas.js';
