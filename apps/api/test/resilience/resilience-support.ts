import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { taskEvents, tasks } from '@clipwire/schema/tables';
import { asc, eq } from 'drizzle-orm';
import { request } from 'undici';
import type { Stack } from '../support/stack.js';

/*
 * Helpers of the resilience battery: a recording proxy in front of the simulator (the simulator
 * keeps counts, not times), a webhook receiver on loopback, and small task/DB helpers.
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

const HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-connection']);

function parse(text: string): any {
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
      const entry: ProxiedRequest = { seq: ++seq, at, method: req.method ?? 'GET', path: req.url ?? '/', body: parse(raw.toString('utf8')) };
      log.push(entry);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      Promise.resolve(gate?.(entry))
        .then(() => request(`${target}${entry.path}`, { method: entry.method as 'GET', headers, body: raw.length > 0 ? raw : null }))
        .then(async (up) => {
          const body = Buffer.from(await up.body.arrayBuffer());
          entry.status = up.statusCode;
          entry.response = parse(body.toString('utf8'));
          entry.answeredAt = Date.now();
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(up.headers)) if (!HOP.has(k) && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
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

export interface Delivery {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  json: any;
  answered: number;
}

export interface WebhookReceiver {
  origin: string;
  url(path: string): string;
  readonly deliveries: Delivery[];
  /** The next `n` requests to `path` are answered 500. */
  failFirst(path: string, n: number): void;
  on(path: string): Delivery[];
  stop(): Promise<void>;
}

/** A partner's webhook endpoint on loopback: records every request with its raw body. */
export async function startReceiver(): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const failures = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const left = failures.get(path) ?? 0;
      const answered = left > 0 ? 500 : 204;
      if (left > 0) failures.set(path, left - 1);
      const raw = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ at, path, headers: req.headers, raw, json: parse(raw), answered });
      res.writeHead(answered);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    deliveries,
    failFirst(path, n) {
      failures.set(path, n);
    },
    on: (path) => deliveries.filter((d) => d.path === path),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The standardwebhooks headers of a recorded delivery, as strings. */
export function webhookHeaders(d: Delivery): Record<string, string> {
  return {
    'webhook-id': String(d.headers['webhook-id'] ?? ''),
    'webhook-timestamp': String(d.headers['webhook-timestamp'] ?? ''),
    'webhook-signature': String(d.headers['webhook-signature'] ?? ''),
  };
}

/** The task row and its events, straight from the database. */
export async function snapshot(stack: Stack, taskId: string) {
  const db = stack.app.db.db;
  const [task] = await db.select().from(tasks).where(eq(tasks.id, taskId));
  const events = await db.select().from(taskEvents).where(eq(taskEvents.taskId, taskId)).orderBy(asc(taskEvents.id));
  return { task: task!, events };
}

/** What a forged or refused callback must not change: status, version, results, error, events. */
export async function observable(stack: Stack, taskId: string) {
  const { task, events } = await snapshot(stack, taskId);
  return {
    status: task.status,
    version: task.version,
    output: task.output,
    error: task.error,
    providerTaskId: task.providerTaskId,
    completedAt: task.completedAt,
    events: events.map((e) => ({ id: e.id, status: e.status, source: e.source })),
  };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function post(url: string, body: string, headers: Record<string, string> = {}) {
  return request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(async (r) => {
    await r.body.dump();
    return r.statusCode;
  });
}

export function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Samples `read` every few ms until stopped; returns the largest value seen. */
export function sampleMax(read: () => number, everyMs = 5): { stop(): number } {
  let max = read();
  const timer = setInterval(() => {
    max = Math.max(max, read());
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, read());
    },
  };
}

/** GET on the simulator with the sandbox key (to see the provider's own view of a task). */
export async function simGet(stack: Stack, path: string, key: string): Promise<any> {
  const res = await request(`${stack.sim.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return res.body.json();
}

export const TASK_FIELDS =
  'id status statusMessage providerTaskId error { code message providerCode } videos { id url } events { edges { node { status source message } } }';

export function eventStatuses(task: Record<string, any>): string[] {
  return task.events.edges.map((e: { node: { status: string } }) => e.node.status);
}

export const PROVIDERS = /* GraphQL */ `{ providers { provider circuit inFlight limit } }`;

/** The per-key API rate limit is not under test here: lifted so that test pollers are never throttled. */
export const NO_API_RATE_LIMIT = { API_RATE_LIMIT_PER_SECOND: '100000', API_RATE_LIMIT_BURST: '1000000' } as const;
