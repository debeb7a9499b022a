import { z } from 'zod';
import { protocolError, type ProviderName } from './errors.js';

/* Zod building blocks shared by the providers' schemas, and the parsing of the bodies they POST to us. */

/** A number, or a numeric string ("5.1", "-3"). */
export const numeric = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);

/** Ids arrive as strings; tolerate numbers. */
export const id = z.union([z.string().min(1), z.number().transform(String)]);

/** A number (or numeric string); absent or garbled → null. */
export const optionalNumber = numeric
  .nullish()
  .catch(null)
  .transform((n) => (n === null || n === undefined || !Number.isFinite(n) ? null : n));

/** ms since epoch; values below 1e12 are taken as seconds. Absent, 0 or garbled → null (informational only). */
export const timestamp = optionalNumber.transform((n): Date | null =>
  n !== null && n > 0 ? new Date(n < 1e12 ? n * 1000 : n) : null,
);

/** A string (or number), absent or '' → null. Any other type fails the parse. */
export const optionalText = z
  .union([z.string(), z.number().transform(String)])
  .nullish()
  .transform((s) => (s === null || s === undefined || s === '' ? null : s));

/**
 * Parses a body a provider POSTed to us (object, JSON text or bytes) with `schema`. Throws a
 * ProviderError of kind 'protocol' when it is not JSON or does not match.
 */
export function parseCallbackBody<S extends z.ZodType>(
  provider: ProviderName,
  schema: S,
  body: unknown,
): { value: unknown; parsed: z.output<S> } {
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
    } catch (err) {
      throw protocolError(provider, 'callback body is not JSON', { cause: err });
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw protocolError(provider, `malformed callback body: ${parsed.error.message}`, { cause: parsed.error });
  }
  return { value, parsed: parsed.data };
}
