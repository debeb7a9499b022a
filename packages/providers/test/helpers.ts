import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockAgent } from 'undici';
import { afterAll, beforeAll } from 'vitest';
import { KlingClient } from '../src/kling/index.js';

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 3000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Catches the rejection of `p` so its fields can be asserted on. Fails if `p` resolves. */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

export interface Receiver {
  url: string;
  bodies: unknown[];
  headers: IncomingMessage['headers'][];
  close(): Promise<void>;
}

/** A tiny loopback HTTP server that records JSON POST bodies and answers 200. */
export async function startReceiver(): Promise<Receiver> {
  const bodies: unknown[] = [];
  const headers: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      headers.push(req.headers);
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/kling`,
    bodies,
    headers,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface MediaServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Real fixture bytes: portrait.png (image/png), speech.mp3 (audio/mpeg), clip.mp4 (video/mp4). */
  portraitUrl: string;
  speechUrl: string;
  clipUrl: string;
  /** A URL that answers with this status (and a short text body). */
  statusUrl(status: number): string;
  /** Like portraitUrl, but the response starts after `ms`. */
  slowPortraitUrl(ms: number): string;
  /** Paths requested so far, in order. */
  requests: string[];
  /** Size in bytes of a served file: 'portrait.png' | 'speech.mp3' | 'clip.mp4'. */
  size(name: MediaName): number;
  close(): Promise<void>;
}

export type MediaName = 'portrait.png' | 'speech.mp3' | 'clip.mp4';

/**
 * A loopback server with real input media (packages/providers/media/fixtures and a sample mp4), for
 * simulators that download their URL inputs. Never point a simulator at a non-loopback URL in tests.
 */
export async function startMediaServer(): Promise<MediaServer> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { fixturesDir, mediaDir } = await import('../src/simulator/media.js');
  const files: Record<MediaName, { data: Buffer; type: string }> = {
    'portrait.png': { data: await readFile(join(fixturesDir, 'portrait-512x640.png')), type: 'image/png' },
    'speech.mp3': { data: await readFile(join(fixturesDir, 'speech-3s.mp3')), type: 'audio/mpeg' },
    'clip.mp4': { data: await readFile(join(mediaDir, 'video-with-sound-sample.mp4')), type: 'video/mp4' },
  };
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://media.invalid');
    requests.push(url.pathname + url.search);
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'text/plain' }).end(`status ${status[1]}`);
      return;
    }
    const file = files[url.pathname.slice(1) as MediaName];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const send = () =>
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.data.length }).end(file.data);
    const delay = Number(url.searchParams.get('delayMs') ?? '0');
    if (delay > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        send();
      }, delay);
      timers.add(t);
    } else send();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    portraitUrl: `${url}/portrait.png`,
    speechUrl: `${url}/speech.mp3`,
    clipUrl: `${url}/clip.mp4`,
    statusUrl: (s) => `${url}/status/${s}`,
    slowPortraitUrl: (ms) => `${url}/portrait.png?delayMs=${ms}`,
    requests,
    size: (name) => files[name].data.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A KlingClient over undici's MockAgent, for answers the simulator never gives (a gateway's HTML,
 * broken JSON, odd shapes): made before the calling describe's tests, closed after them.
 */
export function mockedKling(origin: string): { readonly mock: MockAgent; readonly client: KlingClient } {
  const state = {} as { mock: MockAgent; client: KlingClient };
  beforeAll(() => {
    state.mock = new MockAgent();
    state.mock.disableNetConnect();
    state.client = new KlingClient({ baseUrl: origin, auth: { apiKey: 'k' }, dispatcher: state.mock });
  });
  afterAll(() => state.mock.close());
  return state;
}
