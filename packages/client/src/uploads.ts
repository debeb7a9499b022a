/**
 * What a `MediaInput.file` takes: a Blob or File (browsers, Node), bytes (a Node Buffer is a
 * Uint8Array), a web ReadableStream, or any async iterable of bytes (a Node Readable such as
 * `fs.createReadStream(path)`). Streams are read to their end before the request is sent: the API
 * needs a file's size and first bytes to check it, and media are at most 100 MB.
 */
export type Upload = Blob | ArrayBuffer | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

export function isUpload(value: unknown): value is Upload {
  if (value === null || typeof value !== 'object') return false;
  if (typeof Blob !== 'undefined' && value instanceof Blob) return true;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return true;
  if (typeof (value as ReadableStream).getReader === 'function') return true;
  return Symbol.asyncIterator in value;
}

/** The upload as a Blob, with the name it is sent under (a File's own name, else `upload-<n>`). */
export async function toBlob(upload: Upload, fallbackName: string): Promise<{ blob: Blob; name: string }> {
  if (typeof Blob !== 'undefined' && upload instanceof Blob) {
    const name = typeof File !== 'undefined' && upload instanceof File && upload.name ? upload.name : fallbackName;
    return { blob: upload, name };
  }
  if (upload instanceof ArrayBuffer) return { blob: new Blob([upload]), name: fallbackName };
  if (ArrayBuffer.isView(upload)) return { blob: new Blob([upload as Uint8Array<ArrayBuffer>]), name: fallbackName };
  if (typeof (upload as ReadableStream).getReader === 'function') {
    return { blob: await new Response(upload as ReadableStream<Uint8Array>).blob(), name: fallbackName };
  }
  const chunks: BlobPart[] = [];
  for await (const chunk of upload as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === 'string' ? chunk : (chunk as Uint8Array<ArrayBuffer>));
  }
  return { blob: new Blob(chunks), name: fallbackName };
}

/**
 * Replaces every upload in `value` by null and collects it with its object path, as the GraphQL
 * multipart request spec names it (`variables.input.image.file`).
 */
export function extractUploads(value: unknown, path: string, out: { path: string; upload: Upload }[]): unknown {
  if (isUpload(value)) {
    out.push({ path, upload: value });
    return null;
  }
  if (Array.isArray(value)) return value.map((v, i) => extractUploads(v, `${path}.${i}`, out));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, extractUploads(v, `${path}.${k}`, out)]));
  }
  return value;
}

/**
 * The body of one operation: JSON, or — when its variables hold uploads — a GraphQL multipart
 * request (`operations`, `map`, then the files in order). A multipart request must be sent with the
 * `GraphQL-Preflight: 1` header (the API's CSRF protection); `multipart` says when.
 */
export async function operationBody(
  query: string,
  variables: unknown,
): Promise<{ body: string | FormData; multipart: boolean; files: { path: string; size: number }[] }> {
  const found: { path: string; upload: Upload }[] = [];
  const stripped = extractUploads(variables ?? {}, 'variables', found);
  const operations = JSON.stringify({ query, variables: stripped });
  if (found.length === 0) return { body: operations, multipart: false, files: [] };
  const blobs = await Promise.all(found.map((f, i) => toBlob(f.upload, `upload-${i}`)));
  const form = new FormData();
  form.append('operations', operations);
  form.append('map', JSON.stringify(Object.fromEntries(found.map((f, i) => [String(i), [f.path]]))));
  blobs.forEach((b, i) => form.append(String(i), b.blob, b.name));
  return { body: form, multipart: true, files: found.map((f, i) => ({ path: f.path, size: blobs[i]!.blob.size })) };
}
