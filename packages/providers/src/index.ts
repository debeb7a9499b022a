export { ProviderError, parseRetryAfter, type ProviderErrorKind, type ProviderErrorInit, type ProviderName } from './errors.js';
export { UNIFIED_STATUSES, isTerminal, statusRank, type UnifiedStatus } from './status.js';
export { createHttpDispatcher, sharedHttpDispatcher, type HttpDispatcherOptions } from './http.js';
export {
  KlingClient,
  parseKlingCallback,
  klingStatusToUnified,
  type KlingAuth,
  type KlingClientOptions,
  type KlingTask,
  type KlingVideo,
  type CreateAvatarVideoRequest,
  type GetAvatarVideoRequest,
  type ListAvatarVideosRequest,
} from './kling/index.js';
