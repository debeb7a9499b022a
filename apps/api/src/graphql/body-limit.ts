import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';

/**
 * The GraphQL endpoint's request-body limits, in place of yoga's `maxRequestBodySize` (set to false).
 *
 * - JSON bodies: at most `jsonBytes`, and at most `jsonValues` JSON values nested at most `jsonDepth`
 *   deep. JSON.parse is synchronous and costs far more per object than per byte (4 MiB of `{},`
 *   blocks the event loop for ~0.2 s, 28 MiB for seconds), so a body over JSON_SCAN_FROM bytes is
 *   scanned as it streams in, a chunk per I/O event, and refused at the first value over the limit —
 *   before anything parses it. Long strings (inline base64) cost a byte-scan only.
 * - Multipart bodies (uploads): at most `multipartBytes` in all, each file at most `fileBytes`,
 *   the `operations` and `map` fields at most `fieldBytes`, at most `files` files.
 *
 * A body that declares a valid Content-Length under JSON_SCAN_FROM is checked by the header alone:
 * node's HTTP parser hands on exactly that many bytes (yoga's own check pipes every body through a
 * stream and a new Request, a tenth of the cost of a small query). The errors are yoga's:
 * 413 REQUEST_ENTITY_TOO_LARGE, 400 BAD_REQUEST.
 *
 * Registered among the app's plugins, which yoga places after its own request parsers, so the
 * parser it wraps is the one selected for the request.
 */
export interface BodyLimits {
  jsonBytes: number;
  jsonValues: number;
  jsonDepth: number;
  multipartBytes: number;
  fileBytes: number;
  fieldBytes: number;
  files: number;
}

/** Below this, a JSON body cannot hold enough values to matter (64 KiB of `{},` parses in ~1 ms). */
export const JSON_SCAN_FROM = 64 * 1024;

export function useRequestBodyLimit(limits: BodyLimits): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI, serverContext }) {
      // A multipart request the router has parsed (files streamed to the store, within these limits).
      const uploaded = (serverContext as { uploaded?: GraphQLParams }).uploaded;
      if (uploaded) return setRequestParser(() => uploaded);
      const multipart = /^multipart\/form-data\b/i.test(request.headers.get('content-type') ?? '');
      const limit = multipart ? limits.multipartBytes : limits.jsonBytes;
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        // One non-negative integer; anything else (negative, non-numeric, comma-joined values as in
        // request smuggling) is refused rather than treated as absent.
        if (!/^\d+$/.test(declared)) throw badRequest('Content-Length header is invalid.');
        if (Number(declared) > limit) throw tooLarge(limit);
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      if (multipart) {
        setRequestParser((req) =>
          parse(withFormDataLimits(declared === null ? guardedBody(req, limit, null, fetchAPI) : req, limits)),
        );
      } else if (declared === null || Number(declared) > JSON_SCAN_FROM) {
        setRequestParser((req) =>
          parse(guardedBody(req, limit, new JsonShape(limits.jsonValues, limits.jsonDepth), fetchAPI)),
        );
      }
    },
  };
}

/** busboy's limits for the multipart parser (whatwg-node's Request takes them per call). */
function withFormDataLimits(request: Request, limits: BodyLimits): Request {
  const formData = request.formData.bind(request) as (opts?: object) => Promise<FormData>;
  (request as { formData: (opts?: object) => Promise<FormData> }).formData = (opts?: object) =>
    formData({
      ...opts,
      formDataLimits: {
        fileSize: limits.fileBytes,
        files: limits.files,
        fieldSize: limits.fieldBytes,
        fields: 8,
        parts: 8 + limits.files,
      },
    });
  return request;
}

/**
 * Counts JSON values and nesting over a byte stream without parsing it: every `[`, `{` and `,`
 * outside a string starts a value. Strings are skipped byte by byte (escapes included).
 */
export class JsonShape {
  private values = 1;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(
    private readonly maxValues: number,
    private readonly maxDepth: number,
  ) {}

  /** Why the body so far is refused, or null. */
  feed(chunk: Uint8Array): string | null {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x2c) this.values++;
      else if (c === 0x5b || c === 0x7b) {
        this.values++;
        if (++this.depth > this.maxDepth) return `the JSON body is nested deeper than ${this.maxDepth} levels`;
      } else if (c === 0x5d || c === 0x7d) this.depth--;
      if (this.values > this.maxValues) return `the JSON body holds more than ${this.maxValues} values`;
    }
    return null;
  }
}

function guardedBody(
  request: Request,
  limit: number,
  shape: JsonShape | null,
  fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream },
): Request {
  let bytes = 0;
  let refused: string | null = null;
  // A body that is the runtime's own ReadableStream pipes only into the runtime's TransformStream.
  const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  const body = request.body!.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        if (bytes > limit) return controller.error(tooLarge(limit));
        // A refused shape is not parsed: the rest is read (under the byte limit, unscanned) and
        // dropped, so that the client, still sending, gets the 400 rather than a reset connection.
        if (refused) return;
        refused = shape?.feed(chunk) ?? null;
        if (!refused) controller.enqueue(chunk);
      },
      flush(controller) {
        if (refused) controller.error(badRequest(refused));
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body,
    // @ts-expect-error -- node's RequestInit needs `duplex` for a stream body; the DOM type lacks it
    duplex: 'half',
  });
}

const tooLarge = (limit: number) =>
  createGraphQLError(`Request body too large (the limit is ${limit} bytes)`, {
    extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' },
  });
const badRequest = (message: string) =>
  createGraphQLError(message, { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
