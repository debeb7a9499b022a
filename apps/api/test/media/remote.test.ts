import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchAndProbe } from '../../src/media/remote.js';
import { MediaFetchError, createSafeDispatcher, type SafeAgent } from '../../src/media/safe-fetch.js';
import { close, createHttpServer, fixture, guardNetwork, listen, serveBytes } from './helpers.js';

const KB = 1024;
// A real PNG followed by 200 KB of padding: bigger than the probe prefix, still a valid PNG start.
const bigPng = Buffer.concat([fixture('portrait-512x640.png'), Buffer.alloc(200 * KB)]);
const files: Record<string, [Buffer, string]> = {
  '/big.png': [bigPng, 'image/png'],
  '/tone.wav': [fixture('tone-3s.wav'), 'audio/wav'],
  '/fast.mp4': [fixture('clip-4s.mp4'), 'video/mp4'],
  '/late.mp4': [fixture('clip-4s-moov-at-end.mp4'), 'video/mp4'],
};

let server: Server;
let origin = '';
let dispatcher: SafeAgent;
let guard: ReturnType<typeof guardNetwork>;
const log = { ranges: [] as (string | undefined)[], bytesSent: 0 };

beforeAll(async () => {
  server = createHttpServer((req, res) => {
    const f = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!f) return void res.writeHead(404).end();
    serveBytes(req, res, f[0], 'application/octet-stream', log);
  });
  origin = `http://127.0.0.1:${await listen(server)}`;
  dispatcher = createSafeDispatcher({ allowOrigins: [origin] });
  guard = guardNetwork();
});

afterAll(async () => {
  guard.restore();
  await dispatcher.close();
  await close(server);
});

beforeEach(() => {
  log.ranges.length = 0;
  log.bytesSent = 0;
});

const opts = (extra: { prefixBytes?: number; maxBytes?: number } = {}) => ({
  dispatcher,
  timeoutMs: 3000,
  maxBytes: extra.maxBytes ?? 10 * 1024 * KB,
  ...(extra.prefixBytes !== undefined ? { prefixBytes: extra.prefixBytes } : {}),
});

describe('fetchAndProbe downloads only what the probe needs', () => {
  it('an image: one 64 KiB range request', async () => {
    const r = await fetchAndProbe(`${origin}/big.png`, opts());
    expect(r.probe).toMatchObject({ kind: 'image', mime: 'image/png', width: 512, height: 640, sizeBytes: bigPng.length });
    expect(log.ranges).toEqual(['bytes=0-65535']);
    expect(r.downloadedBytes).toBe(64 * KB);
    expect(log.bytesSent).toBe(64 * KB);
  });

  it('a wav bigger than the prefix: prefix, then the whole file', async () => {
    const wav = files['/tone.wav']![0];
    const r = await fetchAndProbe(`${origin}/tone.wav`, opts({ prefixBytes: 4 * KB }));
    expect(r.probe).toMatchObject({ kind: 'audio', durationSeconds: 3, sizeBytes: wav.length, complete: true });
    expect(log.ranges).toEqual(['bytes=0-4095', undefined]);
    expect(r.downloadedBytes).toBe(4 * KB + wav.length);
  });

  it('a faststart mp4: the prefix is enough', async () => {
    const r = await fetchAndProbe(`${origin}/fast.mp4`, opts({ prefixBytes: 2 * KB }));
    expect(r.probe).toMatchObject({ kind: 'video', durationSeconds: 4, complete: false });
    expect(log.ranges).toEqual(['bytes=0-2047']);
  });

  it('an mp4 with moov at the end: prefix, then the whole file', async () => {
    const r = await fetchAndProbe(`${origin}/late.mp4`, opts({ prefixBytes: 2 * KB }));
    expect(r.probe).toMatchObject({ kind: 'video', durationSeconds: 4, complete: true });
    expect(log.ranges).toEqual(['bytes=0-2047', undefined]);
  });

  it('a file whose total size is over maxBytes is not downloaded further', async () => {
    const wav = files['/tone.wav']![0];
    const r = await fetchAndProbe(`${origin}/tone.wav`, opts({ prefixBytes: 4 * KB, maxBytes: 16 * KB }));
    expect(r.probe).toMatchObject({ kind: 'audio', sizeBytes: wav.length, complete: false });
    expect(r.probe.durationSeconds).toBeUndefined();
    expect(log.ranges).toEqual(['bytes=0-4095']);
  });

  it('is refused like safeFetch for a non-allow-listed loopback URL', async () => {
    await expect(fetchAndProbe('http://127.0.0.1:9/x.png', opts())).rejects.toBeInstanceOf(MediaFetchError);
    expect(guard.attempts.every((a) => a.port !== 9)).toBe(true);
  });
});
