import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { taskEvents, tasks } from '@clipwire/schema/tables';
import { asc, eq } from 'drizzle-orm';
import { request } from 'undici';
import { parseBody } from '../support/proxy.js';
import type { Stack } from '../support/stack.js';

/*
 * Helpers of the resilience battery: a webhook receiver on loopback and small task/DB helpers (the
 * recording proxy in front of the simulator is in ../support/proxy.ts).
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
  /** What requests to `path` are answered (all of them, or the next `times`), instead of 204. */
  answer(path: string, reply: Reply, times?: number): void;
  on(path: string): Delivery[];
  stop(): Promise<void>;
}

/** A receiver's answer: its status and a text/plain body. */
export interface Reply {
  status: number;
  body?: string;
}

/**
 * A partner's webhook endpoint on loopback: records every request with its raw body, and answers 204
 * unless told otherwise for its path (`answer`, `failFirst`).
 */
export async function startReceiver(): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const answers = new Map<string, { reply: Reply; left: number }>();
  const server: Server = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const planned = answers.get(path);
      const reply = planned && planned.left > 0 ? planned.reply : { status: 204 };
      if (planned) planned.left--;
      const raw = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ at, path, headers: req.headers, raw, json: parseBody(raw), answered: reply.status });
      if (reply.body === undefined) res.writeHead(reply.status);
      else res.writeHead(reply.status, { 'content-type': 'text/plain' });
      res.end(reply.body);
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
      answers.set(path, { reply: { status: 500 }, left: n });
    },
    answer(path, reply, times = Number.POSITIVE_INFINITY) {
      answers.set(path, { reply, left: times });
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
  return request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(
    async (r) => {
      await r.body.dump();
      return r.statusCode;
    },
  );
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
/**
 * For the engine's batteries: a task's events are its status changes. Copying a SUCCEEDED task's
 * outputs (ARCHIVE_OUTPUTS, on by default) adds an event, a version and output state after the fact,
 * which these tests' before/after comparisons would race with; the archive is tested in test/outputs/.
 */
export const ENGINE_ONLY = { ARCHIVE_OUTPUTS: 'false' } as const;

export const NO_API_RATE_LIMIT = { API_RATE_LIMIT_PER_SECOND: '100000', API_RATE_LIMIT_BURST: '1000000' } as const;
