import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/*
 * A recording proxy in front of the simulator (the simulator keeps counts, not times): it
 * timestamps every request, records its answer, and can hold a request on the way.
 */

export const KLING_AVATAR_PATH = '/v1/videos/avatar/image2video';
export const KIE_CREATE_PATH = '/api/v1/jobs/createTask';

export interface ProxiedRequest {
  seq: number;
  /** Date.now() when the request arrived at the proxy (= when it left Clipwire, on loopback). */
  at: number;
  method: string;
  path: string;
  body: any;
  status?: number;
  response?: any;
  /** Date.now() when the answer was relayed back. */
  answeredAt?: number;
}

export interface RecordingProxy {
  url: string;
  /** Where requests are forwarded (the simulator, known only once the stack started). */
  setTarget(url: string): void;
  readonly log: ProxiedRequest[];
  /** Requests of one kind, in arrival order. */
  creates(path: string, since?: number): ProxiedRequest[];
  /**
   * Called with each request once its body is in; the request is forwarded when the promise it
   * returns settles (at once for undefined). A request held here reaches the provider late, even
   * after Clipwire gave up waiting for it, as a request stuck on the network would.
   */
  setGate(gate: ((r: ProxiedRequest) => Promise<void> | undefined) | null): void;
  stop(): Promise<void>;
}

const HOP = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'proxy-connection',
]);

/** A body as JSON when it is JSON, else as text (null when empty). */
export function parseBody(text: string): any {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A transparent HTTP proxy that timestamps every request and records its answer. Point
 * KLING_BASE_URL / KIE_BASE_URL at it (both stay SANDBOX without credentials).
 */
export async function startRecordingProxy(): Promise<RecordingProxy> {
  let target = '';
  let gate: ((r: ProxiedRequest) => Promise<void> | undefined) | null = null;
  const log: ProxiedRequest[] = [];
  let seq = 0;
  const server = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const entry: ProxiedRequest = {
        seq: ++seq,
        at,
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        body: parseBody(raw.toString('utf8')),
      };
      log.push(entry);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (!HOP.has(k) && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      Promise.resolve(gate?.(entry))
        .then(() =>
          request(`${target}${entry.path}`, {
            method: entry.method as 'GET',
            headers,
            body: raw.length > 0 ? raw : null,
          }),
        )
        .then(async (up) => {
          const body = Buffer.from(await up.body.arrayBuffer());
          entry.status = up.statusCode;
          entry.response = parseBody(body.toString('utf8'));
          entry.answeredAt = Date.now();
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(up.headers))
            if (!HOP.has(k) && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
          if (res.destroyed) return;
          res.writeHead(up.statusCode, { ...out, 'content-length': String(body.length) });
          res.end(body);
        })
        .catch(() => {
          entry.status = 502;
          if (!res.headersSent && !res.destroyed) {
            res.writeHead(502);
            res.end();
          }
        });
    });
  });
  // A client that times out closes its socket; nothing to do for it.
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setTarget(url) {
      target = url;
    },
    log,
    creates(path, since = 0) {
      return log.filter((r) => r.method === 'POST' && r.path === path && r.at >= since);
    },
    setGate(g) {
      gate = g;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
