import { ProviderError, RETRYABLE_UPSTREAM, type ErrorRule } from '../errors.js';

/**
 * KIE.ai body codes (docs/providers/kie.md). They arrive in the JSON body, sometimes with HTTP 200, so
 * classification is by this code, never by the HTTP status. Retryable: 429, 455, 500.
 */
const CODE_RULES: Record<number, ErrorRule> = {
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

/** Codes missing from the table: any 5xx code or HTTP 5xx is a retryable upstream failure; other 4xx codes are final. */
function fallbackRule(code: number, httpStatus: number): ErrorRule {
  if ((code >= 500 && code < 600) || httpStatus >= 500) return RETRYABLE_UPSTREAM;
  if (code === 403) return { kind: 'permission', retryable: false };
  return { kind: code >= 400 && code < 500 ? 'validation' : 'upstream', retryable: false };
}

export function classifyKieError(e: {
  httpStatus: number;
  code: number;
  message: string;
  retryAfterMs?: number;
}): ProviderError {
  const rule = CODE_RULES[e.code] ?? fallbackRule(e.code, e.httpStatus);
  const { httpStatus, retryAfterMs } = e;
  const message = `kie ${e.code}: ${e.message || 'no message'}`;
  return new ProviderError({ provider: 'kie', code: String(e.code), ...rule, httpStatus, message, retryAfterMs });
}
