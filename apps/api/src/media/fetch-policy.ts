/**
 * What a fetched URL may reach: public unicast addresses only (classifyAddress), http(s) URLs without
 * credentials or loopback names (validateFetchUrl), and the errors that say why not.
 */
import { isIP } from 'node:net';
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
  /** The HTTP status of an HTTP_STATUS error. */
  readonly status: number | undefined;

  constructor(
    readonly code: MediaFetchErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    this.name = 'MediaFetchError';
    this.status = options?.status;
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

/** Strips brackets and trailing dots; lower-cases. */
export function bareHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

export function blockedAddress(host: string, reason: string, literal: boolean): MediaFetchError {
  // Resolved addresses are not echoed (they describe the inside of our network); literals were
  // written by the caller anyway.
  return new MediaFetchError(
    'BLOCKED_ADDRESS',
    literal
      ? `address ${host} is not a public address (${reason})`
      : `host ${host} resolves to a non-public address (${reason})`,
  );
}

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
