import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import {
  MediaFetchError,
  classifyAddress,
  createSafeDispatcher,
  safeFetch,
  type MediaFetchErrorCode,
  type SafeAgent,
} from '../../src/media/safe-fetch.js';
import {
  close,
  createHttpServer,
  fakeLookup,
  fixture,
  guardNetwork,
  listen,
  serveBytes,
  startCanary,
} from './helpers.js';

const KB = 1024;

let canary: Awaited<ReturnType<typeof startCanary>>;
let guard: ReturnType<typeof guardNetwork>;
let sim: Server;
let simPort = 0;
let simOrigin = '';
let dispatcher: SafeAgent;
const simHits: string[] = [];
const rangeLog = { ranges: [] as (string | undefined)[], bytesSent: 0 };
const timers = new Set<NodeJS.Timeout>();

const dns = fakeLookup({
  'evil.test': ['127.0.0.1'],
  'evil6.test': ['::1'],
  'internal.test': ['10.0.0.5'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '10.0.0.1'],
  'mixed2.test': ['127.0.0.1', '93.184.216.34'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'cgnat.test': ['100.64.1.1'],
  'nat64.test': ['64:ff9b::a00:1'],
  'sim.example.com': ['127.0.0.1'],
  'public.test': ['93.184.216.34'],
});

const portrait = fixture('portrait-512x640.png');

function simHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://sim');
  simHits.push(url.pathname);
  const loop = /^\/loop\/(\d+)$/.exec(url.pathname);
  if (loop) {
    res.writeHead(302, { location: `/loop/${Number(loop[1]) + 1}` }).end();
    return;
  }
  switch (url.pathname) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 }).end('hello');
      return;
    case '/exact':
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(64 * KB, 1));
      return;
    case '/redirect':
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/ok' }).end();
      return;
    case '/portrait.png':
      serveBytes(req, res, portrait, 'image/png', rangeLog);
      return;
    case '/no-range': // ignores Range, sends 300 KB with a length
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 300 * KB });
      res.end(Buffer.alloc(300 * KB, 2));
      return;
    case '/big-length': {
      // Announces 2 MB, then trickles: a client that trusts the header stops at once.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 2048 * KB });
      res.write(Buffer.alloc(KB));
      return;
    }
    case '/big-chunked': {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
      let sent = 0;
      const t = setInterval(() => {
        if (res.destroyed || sent >= 2048 * KB) {
          clearInterval(t);
          timers.delete(t);
          res.end();
          return;
        }
        res.write(Buffer.alloc(64 * KB, 3));
        sent += 64 * KB;
      }, 1);
      timers.add(t);
      return;
    }
    case '/slow': {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const t = setInterval(() => {
        if (res.destroyed) {
          clearInterval(t);
          timers.delete(t);
          return;
        }
        res.write('x');
      }, 50);
      timers.add(t);
      return;
    }
    case '/missing':
      res.writeHead(404, { 'content-type': 'text/plain' }).end('nope');
      return;
    default:
      res.writeHead(500).end();
  }
}

beforeAll(async () => {
  canary = await startCanary();
  sim = createHttpServer(simHandler);
  simPort = await listen(sim);
  simOrigin = `http://127.0.0.1:${simPort}`;
  dispatcher = createSafeDispatcher({ allowOrigins: [simOrigin], lookup: dns.lookup, connectTimeoutMs: 2000 });
  guard = guardNetwork();
});

afterAll(async () => {
  guard.restore();
  for (const t of timers) clearInterval(t);
  await dispatcher.close();
  await close(sim);
  await canary.close();
});

async function expectRefused(
  url: string,
  code: MediaFetchErrorCode,
  d: SafeAgent = dispatcher,
): Promise<MediaFetchError> {
  const err = await safeFetch(url, { dispatcher: d, maxBytes: 1024 * KB, timeoutMs: 3000 }).then(
    () => {
      throw new Error(`expected ${url} to be refused`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MediaFetchError);
  expect((err as MediaFetchError).code, (err as Error).message).toBe(code);
  return err as MediaFetchError;
}

describe('safeFetch refuses hostile URLs (table)', () => {
  // Rows are built lazily: the canary (P) and simulator (S) ports exist only after beforeAll.
  type Row = [name: string, url: () => string, code: MediaFetchErrorCode];
  const P = () => canary.port;
  const S = () => simPort;
  const via = (target: () => string) => () => `${simOrigin}/redirect?to=${encodeURIComponent(target())}`;
  const rows: Row[] = [
    // loopback, every spelling (port = the canary's)
    ['loopback dotted', () => `http://127.0.0.1:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback decimal', () => `http://2130706433:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback octal', () => `http://017700000001:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback hex', () => `http://0x7f000001:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback hex short', () => `http://0x7f.1:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback short 127.1', () => `http://127.1:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback short 127.0.1', () => `http://127.0.1:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback octal octet', () => `http://0177.0.0.1:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback zero-padded', () => `http://127.000.000.001:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback full-width digits', () => `http://１２７.０.０.１:${P()}/`, 'BLOCKED_ADDRESS'],
    ['loopback 127.0.0.2', () => `http://127.0.0.2:${P()}/`, 'BLOCKED_ADDRESS'],
    ['IPv6 loopback', () => `http://[::1]:${P()}/`, 'BLOCKED_ADDRESS'],
    ['IPv6 loopback long form', () => `http://[0:0:0:0:0:0:0:1]:${P()}/`, 'BLOCKED_ADDRESS'],
    ['IPv4-mapped IPv6 dotted', () => `http://[::ffff:127.0.0.1]:${P()}/`, 'BLOCKED_ADDRESS'],
    ['IPv4-mapped IPv6 hex', () => `http://[::ffff:7f00:1]:${P()}/`, 'BLOCKED_ADDRESS'],
    ['IPv4-compatible IPv6', () => `http://[::127.0.0.1]:${P()}/`, 'BLOCKED_ADDRESS'],
    ['localhost', () => `http://localhost:${P()}/`, 'BLOCKED_URL'],
    ['localhost trailing dot', () => `http://localhost.:${P()}/`, 'BLOCKED_URL'],
    ['LOCALHOST uppercase', () => `http://LOCALHOST:${P()}/`, 'BLOCKED_URL'],
    ['subdomain of localhost', () => `http://api.localhost:${P()}/`, 'BLOCKED_URL'],
    ['percent-encoded localhost', () => `http://%6c%6f%63%61%6c%68%6f%73%74:${P()}/`, 'BLOCKED_URL'],
    // unspecified
    ['0.0.0.0', () => `http://0.0.0.0:${P()}/`, 'BLOCKED_ADDRESS'],
    ['0', () => `http://0:${P()}/`, 'BLOCKED_ADDRESS'],
    ['IPv6 unspecified', () => `http://[::]:${P()}/`, 'BLOCKED_ADDRESS'],
    // private
    ['10/8', () => 'http://10.0.0.1/', 'BLOCKED_ADDRESS'],
    ['172.16/12 low', () => 'http://172.16.0.1/', 'BLOCKED_ADDRESS'],
    ['172.16/12 high', () => 'http://172.31.255.254/', 'BLOCKED_ADDRESS'],
    ['192.168/16', () => 'http://192.168.1.1/', 'BLOCKED_ADDRESS'],
    ['fc00::/7', () => 'http://[fc00::1]/', 'BLOCKED_ADDRESS'],
    ['fd00::/8', () => 'http://[fd12:3456::1]/', 'BLOCKED_ADDRESS'],
    // link-local and cloud metadata
    ['metadata 169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/', 'BLOCKED_ADDRESS'],
    ['metadata decimal', () => 'http://2852039166/latest/meta-data/', 'BLOCKED_ADDRESS'],
    ['metadata hex', () => 'http://0xa9fea9fe/', 'BLOCKED_ADDRESS'],
    ['metadata IPv4-mapped', () => 'http://[::ffff:169.254.169.254]/', 'BLOCKED_ADDRESS'],
    ['metadata AWS IPv6', () => 'http://[fd00:ec2::254]/', 'BLOCKED_ADDRESS'],
    ['fe80::/10', () => 'http://[fe80::1]/', 'BLOCKED_ADDRESS'],
    // CGNAT, multicast, broadcast, reserved, benchmark, documentation
    ['CGNAT low', () => 'http://100.64.0.1/', 'BLOCKED_ADDRESS'],
    ['CGNAT high', () => 'http://100.127.255.254/', 'BLOCKED_ADDRESS'],
    ['multicast 224/4', () => 'http://224.0.0.1/', 'BLOCKED_ADDRESS'],
    ['multicast SSDP', () => 'http://239.255.255.250/', 'BLOCKED_ADDRESS'],
    ['broadcast', () => 'http://255.255.255.255/', 'BLOCKED_ADDRESS'],
    ['IPv6 multicast', () => 'http://[ff02::1]/', 'BLOCKED_ADDRESS'],
    ['reserved 240/4', () => 'http://240.0.0.1/', 'BLOCKED_ADDRESS'],
    ['IETF 192.0.0.0/24', () => 'http://192.0.0.1/', 'BLOCKED_ADDRESS'],
    ['benchmark 198.18/15', () => 'http://198.19.0.1/', 'BLOCKED_ADDRESS'],
    ['documentation 192.0.2/24', () => 'http://192.0.2.1/', 'BLOCKED_ADDRESS'],
    ['documentation 2001:db8::/32', () => 'http://[2001:db8::1]/', 'BLOCKED_ADDRESS'],
    // IPv6 forms embedding an IPv4 address
    ['NAT64 of metadata', () => 'http://[64:ff9b::a9fe:a9fe]/', 'BLOCKED_ADDRESS'],
    ['NAT64 of loopback', () => `http://[64:ff9b::127.0.0.1]:${P()}/`, 'BLOCKED_ADDRESS'],
    ['6to4 of loopback', () => `http://[2002:7f00:1::1]:${P()}/`, 'BLOCKED_ADDRESS'],
    ['6to4 of 10.0.0.1', () => 'http://[2002:a00:1::]/', 'BLOCKED_ADDRESS'],
    ['Teredo', () => 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'BLOCKED_ADDRESS'],
    // schemes
    ['file:', () => 'file:///etc/passwd', 'BLOCKED_URL'],
    ['ftp:', () => 'ftp://example.com/file', 'BLOCKED_URL'],
    ['gopher:', () => `gopher://127.0.0.1:${P()}/_GET`, 'BLOCKED_URL'],
    ['data:', () => 'data:text/plain,hello', 'BLOCKED_URL'],
    ['javascript:', () => 'javascript:alert(1)', 'BLOCKED_URL'],
    ['ws:', () => `ws://127.0.0.1:${P()}/`, 'BLOCKED_URL'],
    ['wss:', () => 'wss://example.com/', 'BLOCKED_URL'],
    ['blob:', () => 'blob:http://example.com/1234', 'BLOCKED_URL'],
    ['dict:', () => `dict://127.0.0.1:${P()}/`, 'BLOCKED_URL'],
    ['not a URL', () => 'not a url', 'BLOCKED_URL'],
    // credentials
    ['user:password@', () => 'http://user:hunter2@example.com/', 'BLOCKED_URL'],
    ['user@', () => 'http://user@example.com/', 'BLOCKED_URL'],
    [':s3cret@', () => 'http://:s3cret@example.com/', 'BLOCKED_URL'],
    ['credentials on the allow-listed origin', () => `http://u:hunter2@127.0.0.1:${S()}/ok`, 'BLOCKED_URL'],
    // names resolving to non-public addresses (injected lookup, no real DNS)
    ['name → 127.0.0.1', () => `http://evil.test:${P()}/`, 'BLOCKED_ADDRESS'],
    ['NAME. → 127.0.0.1 (uppercase, trailing dot)', () => `http://EVIL.TEST.:${P()}/`, 'BLOCKED_ADDRESS'],
    ['name → ::1', () => `http://evil6.test:${P()}/`, 'BLOCKED_ADDRESS'],
    ['name → ::ffff:127.0.0.1', () => `http://mapped.test:${P()}/`, 'BLOCKED_ADDRESS'],
    ['name → 10.0.0.5', () => 'http://internal.test/', 'BLOCKED_ADDRESS'],
    ['name → 169.254.169.254', () => 'http://metadata.test/latest/meta-data/', 'BLOCKED_ADDRESS'],
    ['name → CGNAT', () => 'http://cgnat.test/', 'BLOCKED_ADDRESS'],
    ['name → NAT64 of 10.0.0.1', () => 'http://nat64.test/', 'BLOCKED_ADDRESS'],
    ['name → public + private', () => 'http://mixed.test/', 'BLOCKED_ADDRESS'],
    ['name → private + public', () => `http://mixed2.test:${P()}/`, 'BLOCKED_ADDRESS'],
    // the allow-list is exact: same address, other origin
    ['name → the allow-listed address', () => `http://sim.example.com:${S()}/ok`, 'BLOCKED_ADDRESS'],
    ['allow-listed host, https', () => `https://127.0.0.1:${S()}/ok`, 'BLOCKED_ADDRESS'],
    ['allow-listed port, localhost', () => `http://localhost:${S()}/ok`, 'BLOCKED_URL'],
    ['allow-listed port, [::1]', () => `http://[::1]:${S()}/ok`, 'BLOCKED_ADDRESS'],
    // redirects from the allow-listed origin to hostile targets
    ['redirect → loopback canary', via(() => `http://127.0.0.1:${P()}/`), 'BLOCKED_ADDRESS'],
    ['redirect → 10.0.0.1', via(() => 'http://10.0.0.1/'), 'BLOCKED_ADDRESS'],
    ['redirect → metadata', via(() => 'http://169.254.169.254/latest/meta-data/'), 'BLOCKED_ADDRESS'],
    ['redirect → name resolving to loopback', via(() => `http://evil.test:${P()}/`), 'BLOCKED_ADDRESS'],
    ['redirect → IPv4-mapped loopback', via(() => `http://[::ffff:127.0.0.1]:${P()}/`), 'BLOCKED_ADDRESS'],
    ['redirect → protocol-relative localhost', via(() => `//localhost:${P()}/`), 'BLOCKED_URL'],
    ['redirect → file:', via(() => 'file:///etc/passwd'), 'BLOCKED_URL'],
    ['redirect → credentials', via(() => 'http://user:hunter2@example.com/'), 'BLOCKED_URL'],
  ];

  it('has at least 40 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
  });

  it.each(rows)('%s', async (_name, url, code) => {
    const before = guard.attempts.length;
    const err = await expectRefused(url(), code);
    expect(err.message).not.toMatch(/hunter2|s3cret/);
    // Refused before any socket to a non-allow-listed target was opened.
    const opened = guard.attempts.slice(before);
    expect(opened.filter((a) => a.port !== simPort)).toEqual([]);
  });
});

describe('the dispatcher itself checks every connection (no safeFetch pre-check)', () => {
  it.each([
    ['literal loopback', () => `http://127.0.0.1:${canary.port}/`],
    ['literal 10.0.0.1', () => 'http://10.0.0.1/'],
    ['literal metadata', () => 'http://169.254.169.254/'],
    ['IPv4-mapped loopback', () => `http://[::ffff:7f00:1]:${canary.port}/`],
    ['localhost', () => `http://localhost:${canary.port}/`],
    ['name → loopback', () => `http://evil.test:${canary.port}/`],
    ['name → public + private', () => 'http://mixed.test/'],
  ])('%s is refused before connecting', async (_name, url) => {
    const before = guard.attempts.length;
    const err = await request(url(), { dispatcher }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MediaFetchError);
    expect((err as MediaFetchError).code).toBe('BLOCKED_ADDRESS');
    expect(guard.attempts.length).toBe(before);
  });
});

describe('classifyAddress', () => {
  it('accepts public unicast v4/v6 and NAT64/6to4 of public v4', () => {
    for (const ip of [
      '93.184.216.34',
      '8.8.8.8',
      '2606:4700:4700::1111',
      '64:ff9b::808:808',
      '2002:808:808::1',
      '::ffff:8.8.8.8',
    ]) {
      expect(classifyAddress(ip), ip).toEqual({ ok: true });
    }
  });
  it('names the range it refuses', () => {
    expect(classifyAddress('10.1.2.3')).toEqual({ ok: false, reason: 'private' });
    expect(classifyAddress('::ffff:169.254.169.254')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('linkLocal'),
    });
    expect(classifyAddress('64:ff9b:1::1')).toMatchObject({ ok: false });
    expect(classifyAddress('not-an-ip')).toMatchObject({ ok: false });
  });
});

describe('safeFetch on allowed targets', () => {
  it('fetches the allow-listed origin (loopback sandbox simulator)', async () => {
    const r = await safeFetch(`${simOrigin}/ok`, { dispatcher, maxBytes: KB, timeoutMs: 3000 });
    expect(r).toMatchObject({ status: 200, contentType: 'text/plain', truncated: false, totalSize: 5 });
    expect(r.bytes.toString()).toBe('hello');
    expect(r.finalUrl).toBe(`${simOrigin}/ok`);
  });

  it('resolves a name once and connects to the checked IP, not the name (no DNS rebinding)', async () => {
    const origin = `http://sim.example.com:${simPort}`;
    let n = 0;
    // First answer loopback (allow-listed origin), every later answer a private address:
    // a second lookup at connect time would be visible as a connection to 10.0.0.1.
    const rebinding = async () => [{ address: n++ === 0 ? '127.0.0.1' : '10.0.0.1', family: 4 }];
    const d = createSafeDispatcher({ allowOrigins: [origin], lookup: rebinding });
    try {
      const before = guard.attempts.length;
      const r = await safeFetch(`${origin}/ok`, { dispatcher: d, maxBytes: KB, timeoutMs: 3000 });
      expect(r.bytes.toString()).toBe('hello');
      expect(n).toBe(1);
      expect(guard.attempts.slice(before)).toEqual([
        { api: 'net', host: '127.0.0.1', port: simPort, servername: undefined },
      ]);
    } finally {
      await d.close();
    }
  });

  it('dials the checked address of a public name and keeps the name for TLS SNI (socket stopped by the test guard)', async () => {
    const before = guard.attempts.length;
    const err = await expectRefused('https://public.test/a.png', 'NETWORK');
    expect(err.message).toContain('https://public.test/a.png');
    expect(guard.attempts.slice(before)).toEqual([
      { api: 'tls', host: '93.184.216.34', port: 443, servername: 'public.test' },
    ]);
  });

  it('follows a redirect inside the allowed origin and reports the final URL', async () => {
    const r = await safeFetch(`${simOrigin}/redirect?to=%2Fok`, { dispatcher, maxBytes: KB, timeoutMs: 3000 });
    expect(r.finalUrl).toBe(`${simOrigin}/ok`);
    expect(r.bytes.toString()).toBe('hello');
  });

  it('accepts a body of exactly maxBytes', async () => {
    const r = await safeFetch(`${simOrigin}/exact`, { dispatcher, maxBytes: 64 * KB, timeoutMs: 3000 });
    expect(r.bytes.length).toBe(64 * KB);
    expect(r.truncated).toBe(false);
  });

  it('rangeBytes asks for a prefix and reports the total size from Content-Range', async () => {
    rangeLog.ranges.length = 0;
    const r = await safeFetch(`${simOrigin}/portrait.png`, {
      dispatcher,
      maxBytes: 10 * 1024 * KB,
      timeoutMs: 3000,
      rangeBytes: 1024,
    });
    expect(rangeLog.ranges).toEqual(['bytes=0-1023']);
    expect(r.status).toBe(206);
    expect(r.bytes.length).toBe(1024);
    expect(r.bytes.equals(portrait.subarray(0, 1024))).toBe(true);
    expect(r.totalSize).toBe(portrait.length);
    expect(r.truncated).toBe(true);
  });

  it('rangeBytes cuts a full response from a server that ignores Range', async () => {
    const r = await safeFetch(`${simOrigin}/no-range`, {
      dispatcher,
      maxBytes: 64 * KB,
      timeoutMs: 3000,
      rangeBytes: 4 * KB,
    });
    expect(r.status).toBe(200);
    expect(r.bytes.length).toBe(4 * KB);
    expect(r.totalSize).toBe(300 * KB);
    expect(r.truncated).toBe(true);
  });
});

describe('safeFetch caps', () => {
  it('refuses a Content-Length over the cap before reading the body', async () => {
    const err = await safeFetch(`${simOrigin}/big-length`, { dispatcher, maxBytes: 1024 * KB, timeoutMs: 3000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MediaFetchError);
    expect(err).toMatchObject({ code: 'TOO_LARGE', message: expect.stringContaining('2097152 bytes') });
  });

  it('stops a chunked body (no length) once it exceeds the cap', async () => {
    const err = await safeFetch(`${simOrigin}/big-chunked`, { dispatcher, maxBytes: 256 * KB, timeoutMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MediaFetchError);
    expect((err as MediaFetchError).code).toBe('TOO_LARGE');
  });

  it('cuts off a slow-drip body at the total time cap', async () => {
    const started = Date.now();
    const err = await safeFetch(`${simOrigin}/slow`, { dispatcher, maxBytes: 1024 * KB, timeoutMs: 400 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MediaFetchError);
    expect((err as MediaFetchError).code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses more than maxRedirects redirects', async () => {
    simHits.length = 0;
    const err = await safeFetch(`${simOrigin}/loop/0`, {
      dispatcher,
      maxBytes: KB,
      timeoutMs: 3000,
      maxRedirects: 3,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaFetchError);
    expect((err as MediaFetchError).code).toBe('TOO_MANY_REDIRECTS');
    expect(simHits).toEqual(['/loop/0', '/loop/1', '/loop/2', '/loop/3']);
  });

  it('reports a non-2xx answer as HTTP_STATUS', async () => {
    await expect(
      safeFetch(`${simOrigin}/missing?token=s3cr3t`, { dispatcher, maxBytes: KB, timeoutMs: 3000 }),
    ).rejects.toMatchObject({
      code: 'HTTP_STATUS',
      message: `${simOrigin}/missing answered HTTP 404`,
    });
  });

  it('refuses a dispatcher that is not a SafeAgent', async () => {
    await expect(
      safeFetch(`${simOrigin}/ok`, { dispatcher: {} as SafeAgent, maxBytes: KB, timeoutMs: 1000 }),
    ).rejects.toThrow(/createSafeDispatcher/);
  });
});

describe('network hygiene', () => {
  it('the loopback canary received zero connections', () => {
    expect(canary.connections()).toBe(0);
  });
  it('no test opened (or tried to open) a socket to a non-loopback address except the guarded SNI test', () => {
    expect(guard.nonLoopback()).toEqual([{ api: 'tls', host: '93.184.216.34', port: 443, servername: 'public.test' }]);
  });
});
