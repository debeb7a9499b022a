/**
 * Subscriber load: a lean graphql-transport-ws client on `ws` (no graphql-ws client library), or
 * the raw baseline protocol, for thousands of sockets in one process. Also the open-loop callback
 * sender of S2, so that send and receive times come from one clock.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { serve } from '../lib/ipc.js';
import { callbackHeaders, sleep, summarize } from '../lib/common.js';

interface Conn {
  ws: WebSocket;
  key: string;
  /** S2: when the awaited push arrived (ms), and how many such pushes. */
  gotAt: number | null;
  got: number;
  /** S3: messages in the current burst, and every cursor seen (duplicates). */
  burst: number;
  cursors: Set<string>;
  errors: number;
  first: boolean;
}

let conns: Conn[] = [];
let sendAt = new Map<string, number>();
let dupCursors = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
let onAnyMessage: (() => void) | null = null;

function onMessage(c: Conn, raw: WebSocket.RawData): void {
  const text = String(raw);
  const m = JSON.parse(text);
  if (m.type === 'ping') return c.ws.send('{"type":"pong"}');
  if (m.type === 'error' || (m.type === 'next' && m.payload?.errors)) {
    c.errors++;
    if (c.errors <= 1 && conns.indexOf(c) < 3) process.stderr.write(`subscription error: ${text.slice(0, 300)}\n`);
    return;
  }
  if (m.type !== 'next') return;
  const data = m.payload?.data ?? {};
  if (data.taskUpdated) {
    if (c.first) {
      c.first = false;
      if (data.taskUpdated.status !== 'PROCESSING') return; // the current state, sent first
    }
    if (data.taskUpdated.status === 'PROCESSING') {
      c.got++;
      c.gotAt ??= performance.now();
    }
  } else if (data.taskEvents) {
    const cursor = String(data.taskEvents.cursor);
    if (c.cursors.has(cursor)) dupCursors++;
    else c.cursors.add(cursor);
    c.burst++;
  }
  onAnyMessage?.();
}

function open(url: string, protocol: string | undefined, key: string, init: string | null): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol ? [protocol] : [], { perMessageDeflate: false });
    const c: Conn = { ws, key, gotAt: null, got: 0, burst: 0, cursors: new Set(), errors: 0, first: true };
    const timer = setTimeout(() => reject(new Error('connect timeout')), 20_000);
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.once('open', () => ws.send(init ?? key));
    ws.once('message', (raw) => {
      clearTimeout(timer);
      const m = JSON.parse(String(raw));
      if (m.type !== 'connection_ack' && m.type !== 'registered') return reject(new Error(`unexpected ${String(raw)}`));
      ws.on('message', (r) => onMessage(c, r));
      resolve(c);
    });
  });
}

function postOnce(url: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...callbackHeaders(url, body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  if (check()) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      onAnyMessage = null;
      resolve(check());
    }, timeoutMs);
    let pending = false;
    onAnyMessage = () => {
      if (pending) return;
      pending = true;
      setImmediate(() => {
        pending = false;
        if (check()) {
          clearTimeout(timer);
          onAnyMessage = null;
          resolve(true);
        }
      });
    };
  });
}

serve(
  {
    /**
     * Opens `keys.length` sockets (one per key). mode 'gql': graphql-transport-ws with the API key;
     * mode 'raw': the baseline server, registering the key.
     */
    async connect(a: { url: string; mode: 'gql' | 'raw'; keys: string[]; apiKey?: string; parallel?: number }) {
      const started = performance.now();
      const wsUrl = a.mode === 'gql' ? `${a.url.replace(/^http/, 'ws')}/graphql` : `${a.url.replace(/^http/, 'ws')}/raw`;
      const init = a.mode === 'gql' ? JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${a.apiKey}` } }) : null;
      let next = 0;
      const opened: Conn[] = [];
      await Promise.all(
        Array.from({ length: a.parallel ?? 100 }, async () => {
          while (next < a.keys.length) {
            const key = a.keys[next++]!;
            opened.push(await open(wsUrl, a.mode === 'gql' ? 'graphql-transport-ws' : undefined, key, init));
          }
        }),
      );
      conns.push(...opened);
      return { n: conns.length, ms: performance.now() - started };
    },
    /** One subscription per socket: `variables(key)` = { id: key } for taskUpdated, or none. Waits for first messages if asked. */
    async subscribe(a: { query: string; perKeyVariable?: string; waitFirstMs?: number }) {
      for (const c of conns) {
        const variables = a.perKeyVariable ? { [a.perKeyVariable]: c.key } : {};
        c.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: a.query, variables } }));
      }
      if (a.waitFirstMs) {
        const ok = await waitFor(() => conns.every((c) => !c.first || c.errors > 0), a.waitFirstMs);
        return { ready: ok, notReady: conns.filter((c) => c.first).length, errors: conns.reduce((s, c) => s + c.errors, 0) };
      }
      return { ready: true };
    },
    /**
     * S2: POSTs `posts` (one per socket key) open-loop at `rate`/s; latency = push received − POST sent.
     * Each key must be pushed exactly once: fewer is lost, more is duplicated.
     */
    async openLoop(a: { posts: { key: string; url: string; body: string }[]; rate: number; settleMs: number }) {
      for (const c of conns) {
        c.gotAt = null;
        c.got = 0;
      }
      sendAt = new Map();
      const byKey = new Map(conns.map((c) => [c.key, c]));
      const statuses = new Map<number, number>();
      const start = performance.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < a.posts.length; i++) {
        const p = a.posts[i]!;
        const due = start + (i * 1000) / a.rate;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        sendAt.set(p.key, performance.now());
        inflight.push(postOnce(p.url, p.body).then((s) => void statuses.set(s, (statuses.get(s) ?? 0) + 1)));
      }
      const sendSeconds = (performance.now() - start) / 1000;
      await Promise.all(inflight);
      const targets = a.posts.map((p) => byKey.get(p.key)!).filter(Boolean);
      await waitFor(() => targets.every((c) => c.got > 0), a.settleMs);
      await sleep(300); // let duplicates show up
      const lat: number[] = [];
      let lost = 0;
      let dup = 0;
      for (const p of a.posts) {
        const c = byKey.get(p.key);
        if (!c || c.gotAt === null) {
          lost++;
          continue;
        }
        if (c.got > 1) dup += c.got - 1;
        lat.push(c.gotAt - sendAt.get(p.key)!);
      }
      return { lat, latency: summarize(lat), lost, dup, sendRate: a.posts.length / sendSeconds, statuses: Object.fromEntries(statuses) };
    },
    /**
     * S3: triggers one burst (callback POSTs to the API, or one POST to the raw server) and waits
     * until every socket has `expect` more messages. Returns the time from trigger to last delivery.
     */
    async burst(a: { posts: { url: string; body: string }[]; expect: number; timeoutMs: number }) {
      for (const c of conns) c.burst = 0;
      const dupBefore = dupCursors;
      const t0 = performance.now();
      let last = t0;
      const statuses = await Promise.all(a.posts.map((p) => postOnce(p.url, p.body)));
      const done = await waitFor(() => {
        const ok = conns.every((c) => c.burst >= a.expect);
        if (ok) last = performance.now();
        return ok;
      }, a.timeoutMs);
      if (!done) last = performance.now();
      const delivered = conns.reduce((s, c) => s + Math.min(c.burst, a.expect), 0);
      const extra = conns.reduce((s, c) => s + Math.max(0, c.burst - a.expect), 0);
      return {
        ms: last - t0,
        delivered,
        expected: conns.length * a.expect,
        dup: dupCursors - dupBefore + extra,
        complete: done,
        badStatus: statuses.filter((s) => s !== 200).length,
      };
    },
    counts: () => ({ conns: conns.length, open: conns.filter((c) => c.ws.readyState === WebSocket.OPEN).length, errors: conns.reduce((s, c) => s + c.errors, 0) }),
    async closeAll() {
      const closing = conns.map((c) => new Promise<void>((r) => {
        if (c.ws.readyState === WebSocket.CLOSED) return r();
        c.ws.once('close', () => r());
        c.ws.close();
        setTimeout(() => { c.ws.terminate(); r(); }, 3000).unref();
      }));
      await Promise.all(closing);
      conns = [];
      dupCursors = 0;
    },
  },
  async () => {
    for (const c of conns) c.ws.terminate();
  },
);
process.send?.({ id: 0, result: 'ready' });
