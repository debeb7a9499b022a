export { createClipwire, isTerminal, TERMINAL_STATUSES } from './client.js';
export type {
  CallOptions,
  Clipwire,
  ClipwireOptions,
  CreateAvatarVideoInput,
  CreateOptions,
  CreateVideoSoundInput,
  TaskFilter,
  TaskStatus,
} from './client.js';
export * from './documents.js';
export { ClipwireError, isClipwireError } from './errors.js';
export type { ClipwireErrorCode, FieldIssue, GraphQLErrorPayload } from './errors.js';
export { graphql } from './graphql.js';
export type { FragmentOf, ResultOf, TadaDocumentNode, VariablesOf } from './graphql.js';
export { extractUploads, operationBody } from './uploads.js';
export type { Upload } from './uploads.js';
export { verifyWebhook } from './webhooks.js';
export type { VerifyWebhookOptions, WebhookHeaders, WebhookPayload } from './webhooks.js';
