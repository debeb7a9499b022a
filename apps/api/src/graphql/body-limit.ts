import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * The GraphQL endpoint's request-body limit, in place of yoga's `maxRequestBodySize` (set to false).
 *
 * Yoga counts the bytes of every body through a TransformStream pipeline and a new Request, whatever
 * the request says of its length: a tenth of the cost of a small query (a node `pipeline`, an
 * AbortController and the DOMException its finish creates, per request). When the request declares
 * a valid Content-Length, node's HTTP parser hands on exactly that many body bytes and no more, so
 * checking the header is the whole check. Only a body without one (chunked) is counted as it
 * streams, as yoga counts it. The errors are yoga's: 413 REQUEST_ENTITY_TOO_LARGE, 400 BAD_REQUEST.
 *
 * Registered among the app's plugins, which yoga places after its own request parsers, so the
 * parser it wraps is the one selected for the request.
 */
export function useRequestBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        // One non-negative integer; anything else (negative, non-numeric, comma-joined values as in
        // request smuggling) is refused rather than treated as absent.
        if (!/^\d+$/.test(declared)) throw badLength();
        if (Number(declared) > limit) throw tooLarge();
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => parse(countingBody(req, limit, fetchAPI)));
    },
  };
}

function countingBody(request: Request, limit: number, fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream }): Request {
  let bytes = 0;
  // A body that is the runtime's own ReadableStream pipes only into the runtime's TransformStream.
  const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  const body = request.body!.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        if (bytes > limit) return controller.error(tooLarge());
        controller.enqueue(chunk);
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

const tooLarge = () => createGraphQLError('Request body too large', { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });
const badLength = () => createGraphQLError('Content-Length header is invalid.', { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
