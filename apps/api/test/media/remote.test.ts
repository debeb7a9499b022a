import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchAndProbe } from '../../src/media/remote.js';
import { MediaFetchError, createSafeDispatcher, type SafeAgent } from '../../src/media/safe-fetch.js';
import { close, createHttpServer, fixture, guardNetwork, listen, serveBytes } from './helpers.js';

const KB = 1024;
// A real PNG followed by 200 KB of padding: bigger than the probe prefix, still a valid PNG start.
const bigPng = Buffer.concat([fixture('portrait-512x640.png'), Buffer.alloc(200 * KB)]);
const png = fixture('portrait-512x640.png');
const fastMp4 = fixture('clip-4s.mp4'); // faststart: ftyp(32) moov(1213) free(8) mdat(4355)
const files: Record<string, [Buffer, string]> = {
  '/big.png': [bigPng, 'image/png'],
  '/tone.wav': [fixture('tone-3s.wav'), 'audio/wav'],
  '/fast.mp4': [fastMp4, 'video/mp4'],
  '/late.mp4': [fixture('clip-4s-moov-at-end.mp4'), 'video/mp4'],
  // Stored cut short (an interrupted upload to a bucket): served whole, with their own (short) size.
  '/cut.png': [png.subarray(0, 30_000), 'image/png'],
  '/cut.mp4': [fastMp4.subarray(0, 2804), 'video/mp4'],
};

let server: Server;
let origin = '';
let dispatcher: SafeAgent;
let guard: ReturnType<typeof guardNetwork>;
const log = { ranges: [] as (string | undefined)[], bytesSent: 0 };

beforeAll(async () => {
  server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    // /chunked/…: no Range support and no Content-Length (chunked): the size is unknown until the end.
    const chunked = path.startsWith('/chunked/');
    const f = files[chunked ? path.slice('/chunked'.length) : path];
    if (!f) return void res.writeHead(404).end();
    if (!chunked) return serveBytes(req, res, f[0], 'application/octet-stream', log);
    log.ranges.push(req.headers.range);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const body = f[0];
    res.write(body.subarray(0, 1000));
    res.end(body.subarray(1000));
    log.bytesSent += body.length;
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
  it('an image bigger than the prefix: prefix, then the whole file (integrity needs every chunk)', async () => {
    const r = await fetchAndProbe(`${origin}/big.png`, opts());
    expect(r.probe).toMatchObject({
      kind: 'image',
      mime: 'image/png',
      width: 512,
      height: 640,
      sizeBytes: bigPng.length,
      complete: true,
      intact: true,
    });
    expect(log.ranges).toEqual(['bytes=0-65535', undefined]);
    expect(r.downloadedBytes).toBe(64 * KB + bigPng.length);
  });

  it('an image smaller than the prefix: one request is the whole file', async () => {
    const r = await fetchAndProbe(`${origin}/big.png`, opts({ prefixBytes: bigPng.length + 1 }));
    expect(r.probe).toMatchObject({ complete: true, intact: true });
    expect(log.ranges).toEqual([`bytes=0-${bigPng.length}`]);
  });

  it('a wav bigger than the prefix: prefix, then the whole file', async () => {
    const wav = files['/tone.wav']![0];
    const r = await fetchAndProbe(`${origin}/tone.wav`, opts({ prefixBytes: 4 * KB }));
    expect(r.probe).toMatchObject({ kind: 'audio', durationSeconds: 3, sizeBytes: wav.length, complete: true });
    expect(log.ranges).toEqual(['bytes=0-4095', undefined]);
    expect(r.downloadedBytes).toBe(4 * KB + wav.length);
  });

  it('a faststart mp4: the prefix is enough (its boxes agree with the served size: nothing claimed)', async () => {
    const r = await fetchAndProbe(`${origin}/fast.mp4`, opts({ prefixBytes: 2 * KB }));
    expect(r.probe).toMatchObject({ kind: 'video', durationSeconds: 4, complete: false });
    expect(r.probe.intact).toBeUndefined();
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

  it('a server without Range support or Content-Length: the whole file, since its size is unknown', async () => {
    const r = await fetchAndProbe(`${origin}/chunked/fast.mp4`, opts({ prefixBytes: 2 * KB }));
    expect(r.probe).toMatchObject({
      kind: 'video',
      durationSeconds: 4,
      sizeBytes: fastMp4.length,
      complete: true,
      intact: true,
    });
    expect(log.ranges).toEqual(['bytes=0-2047', undefined]);
    expect(r.downloadedBytes).toBe(2 * KB + fastMp4.length);
  });

  it('…and a file of unknown size over maxBytes is stopped by the download cap', async () => {
    await expect(
      fetchAndProbe(`${origin}/chunked/fast.mp4`, opts({ prefixBytes: 2 * KB, maxBytes: 4 * KB })),
    ).rejects.toMatchObject({
      name: 'MediaFetchError',
      code: 'TOO_LARGE',
    });
  });

  it('is refused like safeFetch for a non-allow-listed loopback URL', async () => {
    await expect(fetchAndProbe('http://127.0.0.1:9/x.png', opts())).rejects.toBeInstanceOf(MediaFetchError);
    expect(guard.attempts.every((a) => a.port !== 9)).toBe(true);
  });
});

describe('fetchAndProbe checks that URL media are whole', () => {
  it('a truncated image (bigger than the prefix): downloaded whole and found cut', async () => {
    const r = await fetchAndProbe(`${origin}/cut.png`, opts({ prefixBytes: 4 * KB }));
    expect(r.probe).toMatchObject({
      kind: 'image',
      width: 512,
      height: 640,
      sizeBytes: 30_000,
      complete: true,
      intact: false,
      corruption: 'the PNG ends inside an IDAT chunk, before its IEND chunk',
    });
    expect(log.ranges).toEqual(['bytes=0-4095', undefined]);
  });

  it('a truncated image (smaller than the prefix): one request, found cut', async () => {
    const r = await fetchAndProbe(`${origin}/cut.png`, opts());
    expect(r.probe).toMatchObject({ complete: true, intact: false });
    expect(log.ranges).toEqual(['bytes=0-65535']);
  });

  it('a faststart mp4 served shorter than its boxes declare: found from the prefix and Content-Range', async () => {
    const r = await fetchAndProbe(`${origin}/cut.mp4`, opts({ prefixBytes: 2 * KB }));
    expect(r.probe).toMatchObject({
      kind: 'video',
      durationSeconds: 4,
      sizeBytes: 2804,
      complete: false,
      intact: false,
      corruption: "the MP4's sample table points past the end of the file (to byte 5608, the file has 2804 bytes)",
    });
    expect(log.ranges).toEqual(['bytes=0-2047']);
    expect(r.downloadedBytes).toBe(2 * KB);
  });
});
