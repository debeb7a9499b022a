/**
 * Subscriber load: a lean graphql-transport-ws client on `ws` (no graphql-ws client library), or
 * the raw baseline protocol, for thousands of sockets per process (run.ts starts two of these and
 * spreads the sockets over them). Also the open-loop callback sender of S2, so that send and receive
 * times come from one clock.
 *
 * Every wait is counted incrementally as messages arrive (how many sockets have what they await), so
 * a message costs O(1) here whatever the number of sockets; times that cross processes (S3: the
 * burst is posted by one loader, delivered to both) are epoch milliseconds (timeOrigin + now()).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { serve } from '../lib/ipc.js';
import { callbackHeaders, sleep, summarize } from '../lib/common.js';

interface Conn {
  ws: WebSocket;
  key: string;
  /** S2: whether this socket's push is awaited, when it arrived (epoch ms), and how many such pushes. */
  awaited: boolean;
  gotAt: number | null;
  got: number;
  /** S3: events in the current burst, and the last cursor seen (cursors only grow: anything else is a duplicate or out of order). */
  burst: number;
  lastCursor: number;
  errors: number;
  first: boolean;
}

const now = () => performance.timeOrigin + performance.now();

let conns: Conn[] = [];
/** Sockets still waiting for their first message after `subscribe`. */
let firstPending = 0;
/** S2: awaited sockets that have their push. */
let gotCount = 0;
/** S3: the burst's expected events per socket, sockets that have them all, and when the last one did. */
let expectN = 0;
let reached = 0;
let reachedAt = 0;
/** Events whose cursor was not above the socket's previous one (duplicated or out of order). */
let dupCursors = 0;
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
/** The pending wait's check, run when a counter it depends on moves. */
let wake: (() => void) | null = null;

const CURSOR = /"cursor":"(\d+)"/;

function onMessage(c: Conn, raw: WebSocket.RawData): void {
  const text = String(raw);
  // The fan-out's messages (thousands per burst): the cursor is all that is needed, no JSON.parse.
  const at = text.indexOf('"taskEvents":{');
  if (at >= 0 && !text.includes('"errors"')) {
    const m = CURSOR.exec(text.slice(at));
    if (m) {
      onEvent(c, Number(m[1]));
      return;
    }
  }
  const m = JSON.parse(text);
  if (m.type === 'ping') return void c.ws.send('{"type":"pong"}');
  if (m.type === 'error' || (m.type === 'next' && m.payload?.errors)) {
    c.errors++;
    if (c.errors <= 1 && conns.indexOf(c) < 3) process.stderr.write(`subscription error: ${text.slice(0, 300)}\n`);
    if (c.first) {
      c.first = false;
      firstPending--;
      wake?.();
    }
    return;
  }
  if (m.type !== 'next') return;
  const data = m.payload?.data ?? {};
  if (data.taskUpdated) {
    if (c.first) {
      c.first = false;
      firstPending--;
      wake?.();
      if (data.taskUpdated.status !== 'PROCESSING') return; // the current state, sent first
    }
    if (data.taskUpdated.status === 'PROCESSING') {
      c.got++;
      if (c.got === 1) {
        c.gotAt = now();
        if (c.awaited) {
          gotCount++;
          wake?.();
        }
      }
    }
  } else if (data.taskEvents) {
    onEvent(c, Number(data.taskEvents.cursor));
  }
}

function onEvent(c: Conn, cursor: number): void {
  if (c.first) {
    c.first = false;
    firstPending--;
  }
  if (!(cursor > c.lastCursor)) {
    dupCursors++;
    return;
  }
  c.lastCursor = cursor;
  c.burst++;
  if (c.burst === expectN) {
    reached++;
    if (reached === conns.length) {
      reachedAt = now();
      wake?.();
    }
  }
}

function open(url: string, protocol: string | undefined, key: string, init: string | null): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol ? [protocol] : [], { perMessageDeflate: false });
    const c: Conn = { ws, key, awaited: false, gotAt: null, got: 0, burst: 0, lastCursor: -1, errors: 0, first: true };
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
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...callbackHeaders(url, body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Resolves true once `check` holds (it is O(1): re-run whenever a counter moves), false after `timeoutMs`. */
function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  if (check()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      wake = null;
      resolve(check());
    }, timeoutMs);
    wake = () => {
      if (!check()) return;
      clearTimeout(timer);
      wake = null;
      resolve(true);
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
      const wsUrl =
        a.mode === 'gql' ? `${a.url.replace(/^http/, 'ws')}/graphql` : `${a.url.replace(/^http/, 'ws')}/raw`;
      const init =
        a.mode === 'gql'
          ? JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${a.apiKey}` } })
          : null;
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
      firstPending += opened.length;
      return { n: conns.length, ms: performance.now() - started };
    },
    /** One subscription per socket: `variables(key)` = { id: key } for taskUpdated, or none. Waits for first messages if asked. */
    async subscribe(a: { query: string; perKeyVariable?: string; waitFirstMs?: number }) {
      for (const c of conns) {
        const variables = a.perKeyVariable ? { [a.perKeyVariable]: c.key } : {};
        c.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: a.query, variables } }));
      }
      if (a.waitFirstMs) {
        const ok = await waitUntil(() => firstPending <= 0, a.waitFirstMs);
        return {
          ready: ok,
          notReady: conns.filter((c) => c.first).length,
          errors: conns.reduce((s, c) => s + c.errors, 0),
        };
      }
      return { ready: true };
    },
    /**
     * S2: POSTs `posts` (one per socket key) open-loop at `rate`/s; latency = push received − POST sent.
     * Each key must be pushed exactly once: fewer is lost, more is duplicated. Also the carried rate:
     * pushes delivered ÷ (last delivery − first POST).
     */
    async openLoop(a: { posts: { key: string; url: string; body: string }[]; rate: number; settleMs: number }) {
      const byKey = new Map(conns.map((c) => [c.key, c]));
      for (const c of conns) {
        c.gotAt = null;
        c.got = 0;
        c.awaited = false;
      }
      const targets = a.posts.map((p) => byKey.get(p.key)).filter((c): c is Conn => c !== undefined);
      for (const c of targets) c.awaited = true;
      gotCount = 0;
      const sendAt = new Map<string, number>();
      const statuses = new Map<number, number>();
      const start = now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < a.posts.length; i++) {
        const p = a.posts[i]!;
        const due = start + (i * 1000) / a.rate;
        const wait = due - now();
        if (wait > 1) await sleep(wait);
        sendAt.set(p.key, now());
        inflight.push(postOnce(p.url, p.body).then((s) => void statuses.set(s, (statuses.get(s) ?? 0) + 1)));
      }
      const sendSeconds = (now() - start) / 1000;
      await Promise.all(inflight);
      await waitUntil(() => gotCount >= targets.length, a.settleMs);
      await sleep(300); // a window for duplicates to show up (there is no condition to wait for)
      const lat: number[] = [];
      let lost = 0;
      let dup = 0;
      let last = start;
      for (const p of a.posts) {
        const c = byKey.get(p.key);
        if (!c || c.gotAt === null) {
          lost++;
          continue;
        }
        if (c.got > 1) dup += c.got - 1;
        lat.push(c.gotAt - sendAt.get(p.key)!);
        last = Math.max(last, c.gotAt);
      }
      const carriedPerSec = lat.length / ((last - start) / 1000 || 1);
      return {
        lat,
        latency: summarize(lat),
        lost,
        dup,
        sendRate: a.posts.length / sendSeconds,
        carriedPerSec,
        statuses: Object.fromEntries(statuses),
      };
    },
    /** S3, before a burst: every socket of this loader is to receive `expect` more events. */
    arm(a: { expect: number }) {
      for (const c of conns) c.burst = 0;
      expectN = a.expect;
      reached = 0;
      reachedAt = 0;
      return { n: conns.length, dupBase: dupCursors };
    },
    /** S3: sends a burst's POSTs (callbacks to the API, or one POST to the raw server); returns when they went out (epoch ms). */
    async post(a: { posts: { url: string; body: string }[] }) {
      const t0 = now();
      const statuses = await Promise.all(a.posts.map((p) => postOnce(p.url, p.body)));
      return { t0, badStatus: statuses.filter((s) => s !== 200).length };
    },
    /** S3, after a burst was posted: waits (bounded) until every socket here has the armed number of events. */
    async settle(a: { timeoutMs: number; dupBase: number }) {
      const complete = await waitUntil(() => reached >= conns.length, a.timeoutMs);
      const delivered = conns.reduce((s, c) => s + Math.min(c.burst, expectN), 0);
      const extra = conns.reduce((s, c) => s + Math.max(0, c.burst - expectN), 0);
      return {
        lastAt: complete ? reachedAt || now() : now(),
        delivered,
        expected: conns.length * expectN,
        dup: dupCursors - a.dupBase + extra,
        complete,
      };
    },
    counts: () => ({
      conns: conns.length,
      open: conns.filter((c) => c.ws.readyState === WebSocket.OPEN).length,
      errors: conns.reduce((s, c) => s + c.errors, 0),
    }),
    async closeAll() {
      const closing = conns.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.ws.readyState === WebSocket.CLOSED) return r();
            c.ws.once('close', () => r());
            c.ws.close();
            setTimeout(() => {
              c.ws.terminate();
              r();
            }, 3000).unref();
          }),
      );
      await Promise.all(closing);
      conns = [];
      firstPending = 0;
      gotCount = 0;
      reached = 0;
      expectN = 0;
      dupCursors = 0;
    },
  },
  async () => {
    for (const c of conns) c.ws.terminate();
  },
);
process.send?.({ id: 0, result: 'ready' });
