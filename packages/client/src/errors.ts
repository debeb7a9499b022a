import type { CreateTaskError } from './documents.js';

/**
 * Why a call failed:
 * - `NETWORK`: no answer (server down, connection cut, WebSocket closed for good);
 * - `UNAUTHENTICATED`: the API key was refused (HTTP 401, WebSocket close 4403);
 * - `RATE_LIMITED`: HTTP 429 (`retryAfterSeconds` says when to retry);
 * - `HTTP`: another non-2xx answer without a GraphQL body;
 * - `GRAPHQL`: the API answered GraphQL errors (`graphqlCode` is the first one's code, e.g.
 *   `BAD_USER_INPUT`, `FORBIDDEN`; `graphqlErrors` has them all);
 * - `VALIDATION_ERROR`, `DUPLICATE_EXTERNAL_TASK_ID`, `PROVIDER_UNAVAILABLE`, `PROVIDER_REJECTED`:
 *   a create mutation answered that error result (`result`, typed; `issues` for a validation error);
 * - `NOT_FOUND`: no task has that id (for you);
 * - `TIMEOUT`: `waitForTask` gave up; `ABORTED`: the caller's AbortSignal fired;
 * - `WEBHOOK_INVALID_SIGNATURE`, `WEBHOOK_TIMESTAMP`, `WEBHOOK_INVALID`: `verifyWebhook` refused a
 *   delivery (no matching signature; timestamp too old or too new; missing headers or a body that is
 *   not a Clipwire event).
 */
export type ClipwireErrorCode =
  | 'NETWORK'
  | 'UNAUTHENTICATED'
  | 'RATE_LIMITED'
  | 'HTTP'
  | 'GRAPHQL'
  | 'VALIDATION_ERROR'
  | 'DUPLICATE_EXTERNAL_TASK_ID'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_REJECTED'
  | 'QUOTA_EXCEEDED'
  | 'NOT_FOUND'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'WEBHOOK_INVALID_SIGNATURE'
  | 'WEBHOOK_TIMESTAMP'
  | 'WEBHOOK_INVALID';

export interface GraphQLErrorPayload {
  message: string;
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
}

export interface FieldIssue {
  path: readonly string[] | null;
  message: string | null;
}

export interface ClipwireErrorOptions {
  status?: number;
  graphqlErrors?: readonly GraphQLErrorPayload[];
  result?: CreateTaskError;
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** The one error type the client throws; `code` says what went wrong (see ClipwireErrorCode). */
export class ClipwireError extends Error {
  override readonly name = 'ClipwireError';
  readonly code: ClipwireErrorCode;
  /** The HTTP status, when there was an HTTP answer. */
  readonly status: number | undefined;
  readonly graphqlErrors: readonly GraphQLErrorPayload[];
  /** The first GraphQL error's `extensions.code` (`BAD_USER_INPUT`, `FORBIDDEN`, …). */
  readonly graphqlCode: string | undefined;
  /** The create mutation's error result, as the API answered it. */
  readonly result: CreateTaskError | undefined;
  /** A validation error's issues, each naming its field (empty for other errors). */
  readonly issues: readonly FieldIssue[];
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ClipwireErrorCode, message: string, options: ClipwireErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.graphqlErrors = options.graphqlErrors ?? [];
    const first = this.graphqlErrors[0]?.extensions?.['code'];
    this.graphqlCode = typeof first === 'string' ? first : undefined;
    this.result = options.result;
    this.issues = options.result?.__typename === 'ValidationError' ? (options.result.issues ?? []) : [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** True for a ClipwireError (of one of `codes`, when given). */
export function isClipwireError(error: unknown, ...codes: ClipwireErrorCode[]): error is ClipwireError {
  return error instanceof ClipwireError && (codes.length === 0 || codes.includes(error.code));
}

const RESULT_CODES = {
  ValidationError: 'VALIDATION_ERROR',
  DuplicateExternalTaskId: 'DUPLICATE_EXTERNAL_TASK_ID',
  ProviderUnavailable: 'PROVIDER_UNAVAILABLE',
  ProviderRejected: 'PROVIDER_REJECTED',
  QuotaExceeded: 'QUOTA_EXCEEDED',
} as const satisfies Record<CreateTaskError['__typename'], ClipwireErrorCode>;

/** The error a create mutation's error result is thrown as. */
export function resultError(result: CreateTaskError): ClipwireError {
  let message = result.message ?? result.__typename;
  if (result.__typename === 'ValidationError' && result.issues?.length) {
    message += `: ${result.issues.map((i) => `${(i.path ?? []).join('.')}: ${i.message}`).join('; ')}`;
  }
  return new ClipwireError(RESULT_CODES[result.__typename], message, { result });
}
