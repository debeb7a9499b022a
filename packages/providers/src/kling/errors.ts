import { ProviderError, RETRYABLE_UPSTREAM, type ErrorRule, type ProviderErrorKind } from '../errors.js';

/** Kling business codes (docs/providers/kling.md). Classification is by business code, not HTTP status. */
const CODE_RULES: Record<number, ErrorRule> = {
  1000: { kind: 'auth', retryable: false },
  1001: { kind: 'auth', retryable: false },
  1002: { kind: 'auth', retryable: false },
  1003: { kind: 'auth', retryable: false },
  1004: { kind: 'auth', retryable: false },
  // Account exception, arrears, resource pack exhausted: retrying cannot help.
  1100: { kind: 'quota', retryable: false },
  1101: { kind: 'quota', retryable: false },
  1102: { kind: 'quota', retryable: false },
  1103: { kind: 'permission', retryable: false },
  1200: { kind: 'validation', retryable: false },
  1201: { kind: 'validation', retryable: false },
  1202: { kind: 'not_found', retryable: false },
  1203: { kind: 'not_found', retryable: false },
  1300: { kind: 'policy', retryable: false },
  1301: { kind: 'policy', retryable: false },
  1302: { kind: 'rate_limit', retryable: true },
  // Over the account's parallel-task limit: a slot frees up when a running task ends.
  1303: { kind: 'concurrency', retryable: true },
  1304: { kind: 'permission', retryable: false },
  5000: { kind: 'upstream', retryable: true },
  5001: { kind: 'upstream', retryable: true },
  5002: { kind: 'upstream', retryable: true },
};

/** Business codes that mean "make a new JWT and retry once" (token not yet valid / expired). */
const TOKEN_REFRESH_CODES: ReadonlySet<string> = new Set(['1003', '1004']);

/** A Kling answer saying the JWT is not yet valid or has expired: a new one may succeed. */
export function isTokenRefreshError(err: unknown): boolean {
  return err instanceof ProviderError && err.provider === 'kling' && TOKEN_REFRESH_CODES.has(err.code);
}

function kindForHttpStatus(status: number): ProviderErrorKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limit';
  if (status === 400 || status === 422) return 'validation';
  return 'upstream';
}

/** Codes missing from the table: any 5xxx code or HTTP 5xx is a retryable upstream failure, else the HTTP status says. */
function fallbackRule(code: number, httpStatus: number): ErrorRule {
  if ((code >= 5000 && code < 6000) || httpStatus >= 500) return RETRYABLE_UPSTREAM;
  return { kind: kindForHttpStatus(httpStatus), retryable: false };
}

export function classifyKlingError(e: {
  httpStatus: number;
  code: number;
  message: string;
  requestId?: string;
  retryAfterMs?: number;
}): ProviderError {
  const rule = CODE_RULES[e.code] ?? fallbackRule(e.code, e.httpStatus);
  const { httpStatus, retryAfterMs, requestId } = e;
  const message = `kling ${e.code}: ${e.message || 'no message'}`;
  return new ProviderError({
    provider: 'kling',
    code: String(e.code),
    ...rule,
    httpStatus,
    message,
    retryAfterMs,
    requestId,
  });
}
