import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from '../http.js';

export { sendJson };

/** A request as handlers see it: body already read, path params extracted. */
export interface SimRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: Buffer;
  params: Record<string, string>;
}

export type SimHandler = (req: SimRequest, res: ServerResponse) => void | Promise<void>;

interface Route {
  method: string;
  segments: string[];
  handler: SimHandler;
}

/** Minimal router: exact segments and `:name` params, matched in registration order. */
export class Router {
  private readonly routes: Route[] = [];
  private fallback: SimHandler = (_req, res) => sendJson(res, 404, { error: 'not found' });

  on(method: string, pattern: string, handler: SimHandler): this {
    this.routes.push({ method: method.toUpperCase(), segments: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /** Answer for requests that match no route. */
  otherwise(handler: SimHandler): this {
    this.fallback = handler;
    return this;
  }

  async handle(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(raw.url ?? '/', 'http://simulator.invalid');
    const body = await readBody(raw);
    const method = (raw.method ?? 'GET').toUpperCase();
    const parts = url.pathname.split('/').filter(Boolean);
    for (const route of this.routes) {
      // HEAD is served by GET routes (node drops the body).
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params = match(route.segments, parts);
      if (params) return route.handler({ method, url, headers: raw.headers, body, params }, res);
    }
    return this.fallback({ method, url, headers: raw.headers, body, params: {} }, res);
  }
}

function match(segments: string[], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const part = parts[i] as string;
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (seg !== part) return undefined;
  }
  return params;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Serves bytes with Content-Length and single-range `Range: bytes=a-b` support (video elements seek with it). */
export function sendBytes(req: SimRequest, res: ServerResponse, data: Buffer, contentType: string): void {
  const size = data.length;
  const base = { 'content-type': contentType, 'accept-ranges': 'bytes', 'cache-control': 'public, max-age=3600' };
  const range = req.headers.range;
  if (range === undefined) {
    res.writeHead(200, { ...base, 'content-length': size });
    res.end(data);
    return;
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  let start = NaN;
  let end = NaN;
  if (m && (m[1] !== '' || m[2] !== '')) {
    if (m[1] === '') {
      // Suffix range: the last N bytes.
      start = Math.max(0, size - Number(m[2]));
      end = size - 1;
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
  }
  if (!(start >= 0 && start <= end && start < size)) {
    res.writeHead(416, { ...base, 'content-range': `bytes */${size}`, 'content-length': 0 });
    res.end();
    return;
  }
  res.writeHead(206, { ...base, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
  res.end(data.subarray(start, end + 1));
}

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts a node:http server for the router; port 0 picks a free port. stop() also drops keep-alive sockets. */
export async function startServer(router: Router, opts: { host?: string; port?: number } = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    router.handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(err) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
