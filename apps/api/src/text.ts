/**
 * Text PostgreSQL cannot store: text and jsonb refuse U+0000, and an unpaired UTF-16 surrogate has
 * no UTF-8 form. Clients' text with either is refused (graphql/text-inputs.ts); providers' text
 * (messages, URLs in reports and callbacks) is stored with U+FFFD in their place, so that a
 * provider's odd byte cannot stop a task from moving.
 */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE = new RegExp(`\\u0000|${UNPAIRED_SURROGATE.source}`, 'g');

/** Why a string cannot be stored, or null. */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  const surrogate = UNPAIRED_SURROGATE.exec(value);
  if (surrogate) {
    const unit = surrogate[0].charCodeAt(0).toString(16).toUpperCase();
    return `contains an unpaired UTF-16 surrogate (U+${unit}); send well-formed Unicode text`;
  }
  return null;
}

/** `value` with every string in it made storable (plain objects and arrays are copied; Dates kept). */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replace(UNSTORABLE, '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, storable(v)])) as T;
  }
  return value;
}
