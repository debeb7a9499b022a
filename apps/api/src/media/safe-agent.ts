import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { bareHost, blockedAddress, classifyAddress, MediaFetchError } from './fetch-policy.js';

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
