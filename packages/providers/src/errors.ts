/** Providers this package talks to, one per provider folder. */
export type ProviderName = 'kling' | 'kie' | 'digital_human';

export type ProviderErrorKind =
  | 'auth'
  | 'quota'
  | 'permission'
  | 'validation'
  | 'policy'
  | 'not_found'
  | 'rate_limit'
  | 'concurrency'
  | 'upstream'
  | 'network'
  | 'timeout'
  | 'protocol';

export interface ProviderErrorInit {
  provider: ProviderName;
  /** The provider's business code as a string ('1303'), or one of ours ('NETWORK_ERROR', 'PROTOCOL_ERROR', …). */
  code: string;
  message: string;
  kind: ProviderErrorKind;
  retryable: boolean;
  httpStatus?: number;
  retryAfterMs?: number;
  requestId?: string;
  cause?: unknown;
}

/** The one error type every provider client throws. Callers branch on `kind` and `retryable`. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly provider: ProviderName;
  readonly code: string;
  readonly kind: ProviderErrorKind;
  readonly retryable: boolean;
  readonly httpStatus?: number;
  readonly retryAfterMs?: number;
  readonly requestId?: string;

  constructor(init: ProviderErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.provider = init.provider;
    this.code = init.code;
    this.kind = init.kind;
    this.retryable = init.retryable;
    if (init.httpStatus !== undefined) this.httpStatus = init.httpStatus;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.requestId !== undefined) this.requestId = init.requestId;
  }
}

/**
 * `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Returns milliseconds (never negative), or undefined when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | string[] | undefined | null,
  nowMs: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw === null) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** Maps a thrown transport failure (undici, sockets, AbortSignal.timeout) to a retryable ProviderError. */
export function transportError(provider: ProviderName, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const detail = typeof e.message === 'string' ? e.message : String(err);
  // Our only abort source is AbortSignal.timeout, so an abort is a timeout.
  const isTimeout =
    e.name === 'TimeoutError' ||
    e.name === 'AbortError' ||
    code === 'UND_ERR_ABORTED' ||
    (code !== undefined && TIMEOUT_CODES.has(code));
  return new ProviderError({
    provider,
    code: code ?? (isTimeout ? 'TIMEOUT' : 'NETWORK_ERROR'),
    kind: isTimeout ? 'timeout' : 'network',
    retryable: true,
    message: `${provider}: ${isTimeout ? 'request timed out' : 'network error'} (${detail})`,
    cause: err,
  });
}

/** How a provider's code table classifies one code. */
export interface ErrorRule {
  kind: ProviderErrorKind;
  retryable: boolean;
}

/** A server-side failure: worth retrying. */
export const RETRYABLE_UPSTREAM: ErrorRule = { kind: 'upstream', retryable: true };

/** `Retry-After` of a response as the optional `retryAfterMs` of a ProviderErrorInit. */
export function retryAfterOf(headers: Record<string, string | string[] | undefined>): { retryAfterMs?: number } {
  const ms = parseRetryAfter(headers['retry-after']);
  return ms === undefined ? {} : { retryAfterMs: ms };
}

/** An error of our own making, not the provider's answer. Not retryable: the same call would fail again. */
function clientError(
  provider: ProviderName,
  code: string,
  kind: ProviderErrorKind,
  message: string,
  extra: { httpStatus?: number; requestId?: string; cause?: unknown } = {},
): ProviderError {
  return new ProviderError({ provider, code, kind, retryable: false, message: `${provider}: ${message}`, ...extra });
}

/** A bad argument, refused before any request is sent. */
export function invalidArgument(provider: ProviderName, message: string): ProviderError {
  return clientError(provider, 'INVALID_ARGUMENT', 'validation', message);
}

/** `value` when it is a non-empty string, else an invalidArgument naming `field`. */
export function requireId(provider: ProviderName, field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalidArgument(provider, `${field} must be a non-empty string`);
  return value;
}

/** A response we cannot make sense of. Not retryable: the same request would get the same answer. */
export function protocolError(
  provider: ProviderName,
  message: string,
  extra: { httpStatus?: number; requestId?: string; cause?: unknown } = {},
): ProviderError {
  return clientError(provider, 'PROTOCOL_ERROR', 'protocol', message, extra);
}
