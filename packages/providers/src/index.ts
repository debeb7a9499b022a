export {
  ProviderError,
  parseRetryAfter,
  type ProviderErrorKind,
  type ProviderErrorInit,
  type ProviderName,
} from './errors.js';
export { UNIFIED_STATUSES, isTerminal, statusRank, type UnifiedStatus } from './status.js';
export { createHttpDispatcher, sendJson, sharedHttpDispatcher, type HttpDispatcherOptions } from './http.js';
export {
  SANDBOX_OUTCOMES,
  SANDBOX_OUTCOME_HEADER,
  SANDBOX_SLOW_FACTOR,
  type CreateOptions,
  type SandboxOutcome,
} from './sandbox.js';
export {
  KlingClient,
  parseKlingCallback,
  klingStatusToUnified,
  type KlingAuth,
  type KlingClientOptions,
  type KlingTask,
  type KlingVideo,
  type KlingAudio,
  type KlingParentVideo,
  type CreateAvatarVideoRequest,
  type GetAvatarVideoRequest,
  type ListAvatarVideosRequest,
  type CreateVideoToAudioRequest,
  type GetVideoToAudioRequest,
  type ListVideoToAudioRequest,
} from './kling/index.js';
export {
  KieClient,
  parseKieCallback,
  verifyKieSignature,
  kieStateToUnified,
  type KieClientOptions,
  type KieCreateTaskRequest,
  type KieTask,
  type KieCallback,
  type KieUploadedFile,
  type VerifyKieSignatureInput,
} from './kie/index.js';
export {
  DigitalHumanClient,
  digitalHumanStatusToUnified,
  type DigitalHumanClientOptions,
  type DigitalHumanGenerationRequest,
  type DigitalHumanTask,
} from './digital-human/index.js';
