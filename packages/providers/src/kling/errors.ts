import { ProviderError, type ProviderErrorKind } from '../errors.js';

interface CodeRule {
  kind: ProviderErrorKind;
  retryable: boolean;
}

/** Kling business codes (docs/providers/kling.md). Classification is by business code, not HTTP status. */
const CODE_RULES: Record<number, CodeRule> = {
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
export const KLING_TOKEN_REFRESH_CODES: ReadonlySet<number> = new Set([1003, 1004]);

function kindForHttpStatus(status: number): ProviderErrorKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limit';
  if (status === 400 || status === 422) return 'validation';
  return 'upstream';
}

export function classifyKlingError(e: {
  httpStatus: number;
  code: number;
  message: string;
  requestId?: string;
  retryAfterMs?: number;
}): ProviderError {
  const rule: CodeRule =
    CODE_RULES[e.code] ??
    (e.code >= 5000 && e.code < 6000
      ? { kind: 'upstream', retryable: true }
      : e.httpStatus >= 500
        ? { kind: 'upstream', retryable: true }
        : { kind: kindForHttpStatus(e.httpStatus), retryable: false });
  return new ProviderError({
    provider: 'kling',
    code: String(e.code),
    kind: rule.kind,
    retryable: rule.retryable,
    httpStatus: e.httpStatus,
    message: `kling ${e.code}: ${e.message || 'no message'}`,
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    ...(e.requestId !== undefined ? { requestId: e.requestId } : {}),
  });
}
