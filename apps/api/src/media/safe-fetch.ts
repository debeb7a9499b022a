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
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import ipaddr from 'ipaddr.js';

export type MediaFetchErrorCode =
  | 'BLOCKED_URL'
  | 'BLOCKED_ADDRESS'
  | 'TOO_LARGE'
  | 'TIMEOUT'
  | 'HTTP_STATUS'
  | 'TOO_MANY_REDIRECTS'
  | 'NETWORK';

export class MediaFetchError extends Error {
  constructor(
    readonly code: MediaFetchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MediaFetchError';
  }
}

// ---------------------------------------------------------------------------------------------
// Address policy
// ---------------------------------------------------------------------------------------------

export type AddressVerdict = { ok: true } | { ok: false; reason: string };

function checkV4(addr: ipaddr.IPv4, via?: string): AddressVerdict {
  const range = addr.range();
  if (range === 'unicast') return { ok: true };
  return { ok: false, reason: via ? `${via} embedding ${range} IPv4 ${addr.toString()}` : range };
}

function v4FromParts(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * Whether an IP address is public unicast (the only kind a fetched URL may reach). `reason` names the
 * range otherwise (ipaddr.js range names: loopback, private, linkLocal, carrierGradeNat, …).
 */
export function classifyAddress(ip: string): AddressVerdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(ip);
  } catch {
    return { ok: false, reason: 'not an IP address' };
  }
  if (parsed.kind() === 'ipv4') return checkV4(parsed as ipaddr.IPv4);

  const v6 = parsed as ipaddr.IPv6;
  const p = v6.parts;
  const [p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0] = p;
  // ::ffff:a.b.c.d (IPv4-mapped): the socket would go to the IPv4 address.
  if (v6.isIPv4MappedAddress()) return checkV4(v6.toIPv4Address(), 'IPv4-mapped IPv6');
  // ::ffff:0:a.b.c.d (IPv4-translated, RFC 6145).
  if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && p4 === 0xffff && p5 === 0) {
    return checkV4(v4FromParts(p6, p7), 'IPv4-translated IPv6');
  }
  // ::/96 — unspecified, loopback and the deprecated IPv4-compatible form (::7f00:1): never public.
  if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && p4 === 0 && p5 === 0) {
    const range = v6.range();
    return { ok: false, reason: range === 'unicast' ? 'IPv4-compatible IPv6' : range };
  }
  // NAT64 well-known prefix 64:ff9b::/96: reaches the embedded IPv4 address through the translator.
  if (p0 === 0x64 && p1 === 0xff9b && p2 === 0 && p3 === 0 && p4 === 0 && p5 === 0) {
    return checkV4(v4FromParts(p6, p7), 'NAT64');
  }
  // 64:ff9b:1::/48 is the local-use NAT64 prefix (RFC 8215): a private translator.
  if (p0 === 0x64 && p1 === 0xff9b && p2 === 1) return { ok: false, reason: 'local-use NAT64' };
  // 6to4 2002:AABB:CCDD::/48 tunnels to the IPv4 address AA.BB.CC.DD.
  if (p0 === 0x2002) return checkV4(v4FromParts(p1, p2), '6to4');
  const range = v6.range();
  // Teredo (2001::/32) hides an arbitrary IPv4 endpoint (obfuscated): refused outright.
  if (range === 'unicast') return { ok: true };
  return { ok: false, reason: range };
}

// ---------------------------------------------------------------------------------------------
// Dispatcher
// ---------------------------------------------------------------------------------------------

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a hostname to ALL its addresses. Injected in tests so nothing depends on real DNS. */
export type LookupFunction = (hostname: string) => Promise<readonly ResolvedAddress[]>;

const systemLookup: LookupFunction = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface SafeDispatcherOptions {
  /**
   * Exact origins (`http://127.0.0.1:4010`) that may be reached even though their address is not
   * public — only the sandbox simulator's. Scheme, host and port must all match.
   */
  allowOrigins?: string[];
  /** Per connection attempt. Default 10 s. */
  connectTimeoutMs?: number;
  /** Name resolution; default `dns.lookup(name, { all: true })`. */
  lookup?: LookupFunction;
}

function normalizeOrigin(origin: string): string {
  const u = new URL(origin);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new TypeError(`allowOrigins entry must be an http(s) origin, got ${u.protocol}`);
  }
  return u.origin;
}

/** Strips brackets and trailing dots; lower-cases. */
function bareHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function blockedAddress(host: string, reason: string, literal: boolean): MediaFetchError {
  // Resolved addresses are not echoed (they describe the inside of our network); literals were
  // written by the caller anyway.
  return new MediaFetchError(
    'BLOCKED_ADDRESS',
    literal
      ? `address ${host} is not a public address (${reason})`
      : `host ${host} resolves to a non-public address (${reason})`,
  );
}

/**
 * An undici Agent that only ever opens sockets to public unicast addresses (plus the exact
 * allow-listed origins). Its connector resolves the name itself, refuses if ANY answer is not public,
 * then connects to the checked address while keeping the hostname for SNI (and undici keeps it for
 * the Host header), so no second DNS answer is ever used.
 */
export class SafeAgent extends Agent {
  readonly allowOrigins: ReadonlySet<string>;

  constructor(opts: SafeDispatcherOptions = {}) {
    const allow = new Set((opts.allowOrigins ?? []).map(normalizeOrigin));
    const lookup = opts.lookup ?? systemLookup;
    const base = buildConnector({
      timeout: opts.connectTimeoutMs ?? 10_000,
      // Defence in depth: we always hand net/tls an IP literal, for which Node never resolves.
      // Should that ever change, fail instead of resolving a second time.
      lookup: (hostname: string, _o: unknown, cb: (err: Error) => void) =>
        cb(new MediaFetchError('BLOCKED_ADDRESS', `unexpected second DNS lookup for ${hostname}`)),
    } as buildConnector.BuildOptions);

    const connect: buildConnector.connector = (options, callback) => {
      const fail = (err: Error) => callback(err, null);
      const origin = `${options.protocol}//${options.host ?? options.hostname}`;
      const allowed = allow.has(origin);
      const host = bareHost(options.hostname);
      const go = (address: string) =>
        base(
          {
            ...options,
            hostname: address,
            // SNI: the name, never an IP (undici also derives it from `host`; be explicit).
            ...(options.protocol === 'https:' && isIP(host) === 0 ? { servername: host } : {}),
          },
          callback,
        );
      if (isIP(host) !== 0) {
        const verdict = classifyAddress(host);
        if (!verdict.ok && !allowed) return fail(blockedAddress(host, verdict.reason, true));
        go(host);
        return;
      }
      if (!allowed && (host === 'localhost' || host.endsWith('.localhost'))) {
        return fail(new MediaFetchError('BLOCKED_ADDRESS', `host ${host} is a loopback name`));
      }
      lookup(host).then(
        (addresses) => {
          if (addresses.length === 0) {
            return fail(new MediaFetchError('NETWORK', `host ${host} has no addresses`));
          }
          // An allow-listed origin (exact scheme, host and port) skips the address check only.
          for (const a of allowed ? [] : addresses) {
            const verdict = classifyAddress(a.address);
            if (!verdict.ok) return fail(blockedAddress(host, verdict.reason, false));
          }
          go(addresses[0]!.address);
        },
        (err: unknown) =>
          fail(
            new MediaFetchError('NETWORK', `could not resolve host ${host}`, {
              cause: err,
            }),
          ),
      );
    };

    super({ connect });
    this.allowOrigins = allow;
  }
}

export function createSafeDispatcher(opts: SafeDispatcherOptions = {}): SafeAgent {
  return new SafeAgent(opts);
}

// ---------------------------------------------------------------------------------------------
// URL validation
// ---------------------------------------------------------------------------------------------

/** scheme://host/path — no credentials, no query (presigned URLs carry secrets there). */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * Checks a URL before any connection: http(s) only, no credentials, no localhost names, no literal
 * non-public IPs (unless the exact origin is allow-listed). Names are checked again at connect time.
 */
export function validateFetchUrl(input: string | URL, allowOrigins: ReadonlySet<string> = new Set()): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new MediaFetchError('BLOCKED_URL', 'not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MediaFetchError('BLOCKED_URL', `URL scheme ${url.protocol} is not allowed (only http and https)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new MediaFetchError('BLOCKED_URL', 'URL must not contain credentials (user:password@)');
  }
  if (allowOrigins.has(url.origin)) return url;
  const host = bareHost(url.hostname);
  if (host === '') throw new MediaFetchError('BLOCKED_URL', 'URL has no host');
  if (host === 'localhost' || host.endsWith('.localhost')) {
    throw new MediaFetchError('BLOCKED_URL', `host ${host} is a loopback name`);
  }
  if (isIP(host) !== 0) {
    const verdict = classifyAddress(host);
    if (!verdict.ok) throw blockedAddress(host, verdict.reason, true);
  }
  return url;
}

// ---------------------------------------------------------------------------------------------
// safeFetch
// ---------------------------------------------------------------------------------------------

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

export async function safeFetch(input: string | URL, opts: SafeFetchOptions): Promise<SafeFetchResult> {
  const { dispatcher, maxBytes, timeoutMs, maxRedirects = 3, rangeBytes } = opts;
  if (!(dispatcher instanceof SafeAgent)) {
    throw new TypeError('safeFetch needs a dispatcher from createSafeDispatcher()');
  }
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const limit = rangeBytes !== undefined ? Math.min(rangeBytes, maxBytes) : maxBytes;

  let url = validateFetchUrl(input, dispatcher.allowOrigins);
  try {
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'accept-encoding': 'identity' };
      if (rangeBytes !== undefined) headers.range = `bytes=0-${Math.max(0, limit - 1)}`;
      const res = await request(url, { method: 'GET', dispatcher, signal, headers });
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
        throw new MediaFetchError('HTTP_STATUS', `${redactUrl(url)} answered HTTP ${status}`);
      }

      const contentLength = parseLength(header(res.headers, 'content-length'));
      let totalSize: number | undefined;
      if (status === 206) {
        const m = /\/(\d+)\s*$/.exec(header(res.headers, 'content-range') ?? '');
        totalSize = m?.[1] !== undefined ? Number(m[1]) : undefined;
      } else {
        totalSize = contentLength;
      }
      if (rangeBytes === undefined && contentLength !== undefined && contentLength > maxBytes) {
        res.body.destroy();
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
            res.body.destroy();
            throw new MediaFetchError('TOO_LARGE', `${redactUrl(url)} is over the ${maxBytes}-byte limit`);
          }
          chunks.push(buf.subarray(0, limit - received));
          received = limit;
          cut = true;
          res.body.destroy();
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
    }
  } catch (err) {
    if (err instanceof MediaFetchError) throw err;
    if (timeout.aborted) {
      throw new MediaFetchError('TIMEOUT', `fetching ${redactUrl(url)} took longer than ${timeoutMs} ms`, {
        cause: err,
      });
    }
    const code = (err as { code?: unknown }).code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      throw new MediaFetchError('TIMEOUT', `connecting to ${url.host} timed out`, { cause: err });
    }
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof MediaFetchError) throw cause;
    throw new MediaFetchError(
      'NETWORK',
      `fetching ${redactUrl(url)} failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
