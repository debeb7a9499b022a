import { z } from 'zod';

/** Base64 of a 100 MB file, the largest input any provider takes (Kling video-to-audio). */
const MAX_BASE64_CHARS = Math.ceil((100 * 1024 * 1024) / 3) * 4;

/**
 * An uploaded file: a File in the browser; on the server a whatwg File, which may come from a
 * fetch ponyfill rather than the global Blob class, so it is recognised by shape.
 */
export function isBlobLike(v: unknown): v is Blob {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Blob).arrayBuffer === 'function' &&
    typeof (v as Blob).size === 'number'
  );
}

const fileSchema = z.custom<Blob>(isBlobLike, 'must be an uploaded file');

export const mediaInputSchema = z
  .object({
    url: z
      .string()
      .max(2048, 'must be at most 2048 characters')
      .url('must be an absolute URL')
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL')
      .optional(),
    base64: z
      .string()
      .max(MAX_BASE64_CHARS, 'must decode to at most 100 MB')
      .refine((b) => !b.startsWith('data:'), 'must be raw base64 without a data: prefix')
      .refine((b) => /^[A-Za-z0-9+/\s]+={0,2}\s*$/.test(b), 'must be valid base64')
      .optional(),
    file: fileSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const given = [m.url, m.base64, m.file].filter((v) => v !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of url, base64 or file', path: [] });
  });

export type MediaInput = z.infer<typeof mediaInputSchema>;
