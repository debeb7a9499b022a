/**
 * SSRF-safe download of client-supplied media URLs.
 *
 * Libraries vs hand-written code:
 * - HTTP: undici (its `Agent` with a custom `connect` function, `request`), no own HTTP code.
 * - Address ranges: ipaddr.js `.range()` — no own CIDR tables except the few forms ipaddr.js reports
 *   as ordinary ranges without judging the IPv4 address embedded in them (IPv4-mapped,
 *   IPv4-translated, IPv4-compatible, NAT64, 6to4), which `classifyAddress` unpacks explicitly.
 * - URL parsing: the WHATWG `URL`, which canonicalises every IPv4 spelling (2130706433, 0x7f.1,
 *   017700000001, 127.1, full-width digits …) to dotted decimal and IPv6 to its compressed form.
 * - The glue (resolve once → check every address → connect to the checked address, manual
 *   redirects, size and time caps) is hand-written: the maintained SSRF guards on npm
 *   (request-filtering-agent, ssrf-req-filter) hook Node's `http.Agent`, not undici, and they check
 *   inside `lookup`, which Node skips for IP literals. Here the check sits in undici's connector,
 *   which sees every connection, and the socket is opened to the address that was checked, so a
 *   second DNS answer (DNS rebinding) can never be used.
 *
 * The address and URL policy is in fetch-policy.ts, the connecting Agent in safe-agent.ts; this module
 * re-exports both and does the download itself.
 */
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Dispatcher, request } from 'undici';
import { MediaFetchError, redactUrl, validateFetchUrl } from './fetch-policy.js';
import { SafeAgent } from './safe-agent.js';

export {
  type AddressVerdict,
  classifyAddress,
  MediaFetchError,
  type MediaFetchErrorCode,
  redactUrl,
  validateFetchUrl,
} from './fetch-policy.js';
export {
  createSafeDispatcher,
  type LookupFunction,
  type ResolvedAddress,
  SafeAgent,
  type SafeDispatcherOptions,
} from './safe-agent.js';

export interface SafeFetchOptions {
  /** Must come from createSafeDispatcher: it is what enforces the address policy. */
  dispatcher: SafeAgent;
  /** Hard cap on the body. A longer body is TOO_LARGE (or, with rangeBytes, cut to the prefix). */
  maxBytes: number;
  /** Total time for all hops, headers and body. */
  timeoutMs: number;
  maxRedirects?: number;
  /** Only the first `rangeBytes` are wanted (sent as a Range request; a server may ignore it). */
  rangeBytes?: number;
  signal?: AbortSignal;
}

export interface SafeFetchResult {
  finalUrl: string;
  status: number;
  contentType: string | undefined;
  bytes: Buffer;
  /** Size of the whole resource, from Content-Range or Content-Length, when known. */
  totalSize?: number;
  /** True when `bytes` is only a prefix of the resource. */
  truncated: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseLength(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/** A response after the redirects: 2xx, its body not yet read. */
interface OpenedResponse {
  url: URL;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/**
 * GETs `input` through the safe dispatcher, following at most `maxRedirects` redirects (each target
 * checked again), and answers the first 2xx response with its body unread; any other status is
 * HTTP_STATUS. Errors are MediaFetchErrors (TIMEOUT once `timeout` fired).
 */
async function openSafe(
  input: string | URL,
  opts: { dispatcher: SafeAgent; signal: AbortSignal; timeout: AbortSignal; timeoutMs: number; maxRedirects: number },
  headers: Record<string, string>,
): Promise<OpenedResponse> {
  const { dispatcher, signal, maxRedirects } = opts;
  if (!(dispatcher instanceof SafeAgent)) {
    throw new TypeError('safeFetch needs a dispatcher from createSafeDispatcher()');
  }
  let url = validateFetchUrl(input, dispatcher.allowOrigins);
  try {
    for (let hop = 0; ; hop++) {
      const res = await request(url, {
        method: 'GET',
        dispatcher,
        signal,
        headers: { 'accept-encoding': 'identity', ...headers },
      });
      const status = res.statusCode;
      if (REDIRECTS.has(status)) {
        const location = header(res.headers, 'location');
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        if (location === undefined) {
          throw new MediaFetchError('HTTP_STATUS', `${redactUrl(url)} answered HTTP ${status} without a Location`);
        }
        if (hop >= maxRedirects) {
          throw new MediaFetchError(
            'TOO_MANY_REDIRECTS',
            `more than ${maxRedirects} redirects starting at ${redactUrl(url)}`,
          );
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new MediaFetchError('BLOCKED_URL', `${redactUrl(url)} redirects to an invalid URL`);
        }
        url = validateFetchUrl(next, dispatcher.allowOrigins);
        continue;
      }
      if (status < 200 || status > 299) {
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        throw new MediaFetchError('HTTP_STATUS', `${redactUrl(url)} answered HTTP ${status}`, { status });
      }
      return { url, status, headers: res.headers, body: res.body };
    }
  } catch (err) {
    throw asFetchError(err, url, opts);
  }
}

function asFetchError(err: unknown, url: URL, opts: { timeout: AbortSignal; timeoutMs: number }): MediaFetchError {
  if (err instanceof MediaFetchError) return err;
  if (opts.timeout.aborted) {
    return new MediaFetchError('TIMEOUT', `fetching ${redactUrl(url)} took longer than ${opts.timeoutMs} ms`, {
      cause: err,
    });
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new MediaFetchError('TIMEOUT', `connecting to ${url.host} timed out`, { cause: err });
  }
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof MediaFetchError) return cause;
  return new MediaFetchError(
    'NETWORK',
    `fetching ${redactUrl(url)} failed: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

/** Stops reading a body: undici reports its abort as an error, which nobody is left to hear. */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

function signals(timeoutMs: number, outer?: AbortSignal) {
  const timeout = AbortSignal.timeout(timeoutMs);
  return { timeout, signal: outer ? AbortSignal.any([timeout, outer]) : timeout };
}

export async function safeFetch(input: string | URL, opts: SafeFetchOptions): Promise<SafeFetchResult> {
  const { dispatcher, maxBytes, timeoutMs, maxRedirects = 3, rangeBytes } = opts;
  const { timeout, signal } = signals(timeoutMs, opts.signal);
  const limit = rangeBytes !== undefined ? Math.min(rangeBytes, maxBytes) : maxBytes;
  const res = await openSafe(
    input,
    { dispatcher, signal, timeout, timeoutMs, maxRedirects },
    rangeBytes !== undefined ? { range: `bytes=0-${Math.max(0, limit - 1)}` } : {},
  );
  const { url, status } = res;
  try {
    const contentLength = parseLength(header(res.headers, 'content-length'));
    let totalSize: number | undefined;
    if (status === 206) {
      const m = /\/(\d+)\s*$/.exec(header(res.headers, 'content-range') ?? '');
      totalSize = m?.[1] !== undefined ? Number(m[1]) : undefined;
    } else {
      totalSize = contentLength;
    }
    if (rangeBytes === undefined && contentLength !== undefined && contentLength > maxBytes) {
      discard(res.body);
      throw new MediaFetchError(
        'TOO_LARGE',
        `${redactUrl(url)} is ${contentLength} bytes, over the ${maxBytes}-byte limit`,
      );
    }

    const chunks: Buffer[] = [];
    let received = 0;
    let cut = false;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      if (received + buf.length > limit) {
        if (rangeBytes === undefined) {
          discard(res.body);
          throw new MediaFetchError('TOO_LARGE', `${redactUrl(url)} is over the ${maxBytes}-byte limit`);
        }
        chunks.push(buf.subarray(0, limit - received));
        received = limit;
        cut = true;
        discard(res.body);
        break;
      }
      chunks.push(buf);
      received += buf.length;
    }
    const bytes = Buffer.concat(chunks, received);
    return {
      finalUrl: url.href,
      status,
      contentType: header(res.headers, 'content-type'),
      bytes,
      ...(totalSize !== undefined ? { totalSize } : {}),
      truncated: cut || (totalSize !== undefined && bytes.length < totalSize),
    };
  } catch (err) {
    throw asFetchError(err, url, { timeout, timeoutMs });
  }
}

export interface SafeStream {
  finalUrl: string;
  contentType: string | undefined;
  /** Content-Length, when the server sent one. */
  sizeBytes: number | undefined;
  /** The body; it fails with TOO_LARGE as soon as more than `maxBytes` arrived, TIMEOUT past `timeoutMs`. */
  body: Readable;
}

/**
 * Like safeFetch, but the body is handed on as a stream (to be written to storage without being held
 * in memory), capped at `maxBytes`: refused at once when Content-Length says it is larger, failed
 * mid-stream when more arrives.
 */
export async function safeStream(input: string | URL, opts: Omit<SafeFetchOptions, 'rangeBytes'>): Promise<SafeStream> {
  const { dispatcher, maxBytes, timeoutMs, maxRedirects = 3 } = opts;
  const { timeout, signal } = signals(timeoutMs, opts.signal);
  const res = await openSafe(input, { dispatcher, signal, timeout, timeoutMs, maxRedirects }, {});
  const { url } = res;
  const sizeBytes = parseLength(header(res.headers, 'content-length'));
  if (sizeBytes !== undefined && sizeBytes > maxBytes) {
    discard(res.body);
    throw new MediaFetchError('TOO_LARGE', `${redactUrl(url)} is ${sizeBytes} bytes, over the ${maxBytes}-byte limit`);
  }
  let received = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received > maxBytes)
        done(new MediaFetchError('TOO_LARGE', `${redactUrl(url)} is over the ${maxBytes}-byte limit`));
      else done(null, chunk);
    },
  });
  pipeline(res.body, capped).catch((err: unknown) => capped.destroy(asFetchError(err, url, { timeout, timeoutMs })));
  return { finalUrl: url.href, contentType: header(res.headers, 'content-type'), sizeBytes, body: capped };
}
