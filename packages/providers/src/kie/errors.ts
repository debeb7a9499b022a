import { ProviderError, type ProviderErrorKind } from '../errors.js';

interface CodeRule {
  kind: ProviderErrorKind;
  retryable: boolean;
}

/**
 * KIE.ai body codes (docs/providers/kie.md). They arrive in the JSON body, sometimes with HTTP 200, so
 * classification is by this code, never by the HTTP status. Retryable: 429, 455, 500.
 */
const CODE_RULES: Record<number, CodeRule> = {
  400: { kind: 'validation', retryable: false },
  401: { kind: 'auth', retryable: false },
  402: { kind: 'quota', retryable: false },
  404: { kind: 'not_found', retryable: false },
  422: { kind: 'validation', retryable: false },
  429: { kind: 'rate_limit', retryable: true },
  // A sub-key over its own spending limit: retrying cannot help until someone raises it.
  433: { kind: 'quota', retryable: false },
  455: { kind: 'upstream', retryable: true },
  500: { kind: 'upstream', retryable: true },
  // Generation failed: the same input would fail again.
  501: { kind: 'upstream', retryable: false },
  505: { kind: 'permission', retryable: false },
};

export function classifyKieError(e: {
  httpStatus: number;
  code: number;
  message: string;
  retryAfterMs?: number;
}): ProviderError {
  const rule: CodeRule =
    CODE_RULES[e.code] ??
    (e.code >= 500 && e.code < 600
      ? { kind: 'upstream', retryable: true }
      : e.httpStatus >= 500
        ? { kind: 'upstream', retryable: true }
        : e.code === 403
          ? { kind: 'permission', retryable: false }
          : { kind: e.code >= 400 && e.code < 500 ? 'validation' : 'upstream', retryable: false });
  return new ProviderError({
    provider: 'kie',
    code: String(e.code),
    kind: rule.kind,
    retryable: rule.retryable,
    httpStatus: e.httpStatus,
    message: `kie ${e.code}: ${e.message || 'no message'}`,
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
  });
}
