import { ProviderError, type ErrorRule } from '../errors.js';

/*
 * The reseller documents no error codes: only that `code` is the string "success" when all is well.
 * Its gateway is new-api style, whose codes are snake_case strings ("invalid_request",
 * "insufficient_user_quota", "rate_limit_exceeded", …). Classification is by that business code
 * when it says something recognisable, else by the HTTP status.
 */
const CODE_PATTERNS: Array<[RegExp, ErrorRule]> = [
  [/rate.?limit|too.?many|throttl|concurren/i, { kind: 'rate_limit', retryable: true }],
  [/quota|balance|insufficient|credit|arrear|payment/i, { kind: 'quota', retryable: false }],
  [/forbidden|permission|disabled|not.?allowed/i, { kind: 'permission', retryable: false }],
  [/unauthori[sz]ed|auth|token|api.?key/i, { kind: 'auth', retryable: false }],
  [/not.?found|not.?exist|no.?such/i, { kind: 'not_found', retryable: false }],
  [/sensitive|policy|violat|moderation/i, { kind: 'policy', retryable: false }],
  [/invalid|param|validat|bad.?request|required|missing/i, { kind: 'validation', retryable: false }],
  [/timeout|unavailable|server|upstream|internal|busy|maintenance|overload/i, { kind: 'upstream', retryable: true }],
];

function ruleForHttpStatus(status: number): ErrorRule {
  if (status === 401) return { kind: 'auth', retryable: false };
  if (status === 402) return { kind: 'quota', retryable: false };
  if (status === 403) return { kind: 'permission', retryable: false };
  if (status === 404) return { kind: 'not_found', retryable: false };
  if (status === 429) return { kind: 'rate_limit', retryable: true };
  if (status >= 500) return { kind: 'upstream', retryable: true };
  if (status === 400 || status === 422) return { kind: 'validation', retryable: false };
  // HTTP 200 with a code that is not "success" and says nothing we know: do not retry blindly.
  return { kind: 'upstream', retryable: false };
}

export function classifyDigitalHumanError(e: {
  httpStatus: number;
  code: string;
  message: string;
  retryAfterMs?: number;
}): ProviderError {
  const rule = CODE_PATTERNS.find(([re]) => re.test(e.code))?.[1] ?? ruleForHttpStatus(e.httpStatus);
  const { httpStatus, retryAfterMs } = e;
  const code = e.code === '' ? `HTTP_${httpStatus}` : e.code;
  const message = `digital_human ${e.code || httpStatus}: ${e.message || 'no message'}`;
  return new ProviderError({ provider: 'digital_human', code, ...rule, httpStatus, message, retryAfterMs });
}
