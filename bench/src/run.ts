/**
 * `pnpm bench [--quick] [--db=pglite|postgres|both] [--only=S1,S3] [--no-profile] [--soak-seconds=N]`
 *
 * Starts the API under test (server.ts, core 0), the bare baseline server (raw-server.ts, core 0),
 * the provider simulator and the load generators (sim.ts, load/http.ts, two load/ws.ts, core 1), then
 * runs S1…S6, each measuring its own baseline in the same run, and prints one line per scenario:
 *   S<n> <metric>=<value> baseline=<value> ratio=<r> target=<t> [(ok|missed) ; <metric>=… ;]… PASS|FAIL [notes]
 * A FAIL re-runs the API phase briefly under the CPU profiler (bench/profiles/).
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { canPin, spawnPeer, type CpuReading, type Peer } from './lib/ipc.js';
import { klingCallbackBody, seededId, seededToken, sleep, summarize, taskGlobalId } from './lib/common.js';

const benchDir = join(import.meta.dirname, '..');
const argv = process.argv.slice(2).filter((a) => a !== '--');
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string) =>
  argv
    .find((a) => a.startsWith(`--${name}=`))
    ?.split('=')
    .slice(1)
    .join('=');
const QUICK = flag('quick');
const PROFILE = !flag('no-profile');
const PG_URL = opt('pg-url') ?? process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DBS = (opt('db') ?? (QUICK ? 'pglite' : 'both')) === 'both' ? ['pglite', 'postgres'] : [opt('db') ?? 'pglite'];
const ONLY = opt('only')?.toUpperCase().split(',');
const RUN = randomBytes(3).toString('hex');

const D = {
  /** Warm-up of each side before it is measured (baselines: every statement prepared on every connection). */
  warmMs: QUICK ? 1500 : 3000,
  s1Seconds: QUICK ? 8 : 20,
  s1Conns: 32,
  s2Rounds: { 100: QUICK ? 1 : 2, 1000: QUICK ? 1 : 3 } as Record<number, number>,
  s3Subs: 5000,
  s3Bursts: QUICK ? 2 : 5,
  s3Events: QUICK ? 10 : 20,
  s4Seconds: QUICK ? 8 : 20,
  s4Conns: 16,
  /** Tasks taken from create to SUCCEEDED for the transaction count, and the concurrency of their creates. */
  s4XactTasks: QUICK ? 60 : 200,
  s4XactConns: 1,
  s4IdleSeconds: 10,
  s5Ms: QUICK ? 5000 : 15000,
  s5Conns: 16,
  s6Seconds: Number(opt('soak-seconds') ?? (QUICK ? 60 : 600)),
  s6IdleSeconds: QUICK ? 10 : 30,
  /** S6 fails when less than this share of the offered rate was completed. */
  s6Carried: 0.95,
  profileSeconds: QUICK ? 5 : 10,
};

/** One more figure on a scenario's line: judged when it has a target, shown for information otherwise. */
interface Sub {
  metric: string;
  value: number;
  baseline?: number;
  ratio?: number;
  target?: string;
  pass?: boolean;
}

interface Result {
  id: string;
  db: string;
  metric: string;
  value: number;
  baseline: number;
  ratio: number;
  target: string;
  pass: boolean;
  /** More figures on the same line (S2…S6). */
  more?: Sub[];
  /** Results saved before `more` existed had one `second`. */
  second?: Sub;
  notes: string;
}

const fmt = (n: number) =>
  !Number.isFinite(n) ? String(n) : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
const subsOf = (r: Result): Sub[] => r.more ?? (r.second ? [r.second] : []);
const passes = (r: Result) => r.pass && subsOf(r).every((s) => s.pass ?? true);
const pct = (part: number, whole: number) => `${fmt((100 * part) / (whole || 1))}%`;
/** How the baselines' statements run on this database (PGlite's query has no statement cache; neither have the product's statements there). */
const prepared = (ctx: { db: string }) => (ctx.db === 'postgres' ? 'prepared' : 'PGlite query, which prepares nothing');

function line(r: Result): string {
  const first = `${r.id} ${r.metric}=${fmt(r.value)} baseline=${fmt(r.baseline)} ratio=${fmt(r.ratio)} target=${r.target}`;
  const subs = subsOf(r);
  const more = subs.length
    ? ` (${r.pass ? 'ok' : 'missed'}) ;` +
      subs
        .map(
          (s) =>
            ` ${s.metric}=${fmt(s.value)}${s.baseline !== undefined ? ` baseline=${fmt(s.baseline)}` : ''}${s.ratio !== undefined ? ` ratio=${fmt(s.ratio)}` : ''}` +
            `${s.target ? ` target=${s.target} (${s.pass ? 'ok' : 'missed'})` : ''} ;`,
        )
        .join('')
    : '';
  return `${first}${more} ${passes(r) ? 'PASS' : 'FAIL'} [${r.db}; ${r.notes}]`;
}

interface Ctx {
  db: string;
  api: string;
  raw: string;
  simUrl: string;
  workerConcurrency: number;
  server: Peer;
  rawServer: Peer;
  sim: Peer;
  http: Peer;
  /** The first subscriber load generator (S2 sends and receives on one clock); `wss` all of them. */
  ws: Peer;
  wss: Peer[];
  s5?: { tenantId: string; apiKey: string; bodies: string[] };
}

type Callback = { taskId: string; path: string; body: string };

/** CPU (ms) a process spent between two readings, and that as a share of one core over the wall time between them. */
const cpuSpent = (a: CpuReading, b: CpuReading) => ({ ms: b.ms - a.ms, share: (b.ms - a.ms) / (b.at - a.at || 1) });

/**
 * SUBMITTED tasks in the database (with callback tokens). With `twins`, each also gets a simulator
 * task (external_task_id = our id), 'processing': only needed when the API reads Kling back; the
 * bench's callbacks are signed, so the API applies them from their body and nothing reads Kling.
 */
async function callbackTasks(
  ctx: Ctx,
  tenantId: string,
  prefix: string,
  n: number,
  { twins = false } = {},
): Promise<Callback[]> {
  await ctx.server.call('seedTasks', { tenantId, prefix, from: 0, to: n - 1, status: 'SUBMITTED', tokens: true });
  const klingIds: string[] = twins
    ? await ctx.sim.call('createKling', { prefix, from: 0, to: n - 1 })
    : Array.from({ length: n }, (_, i) => `kling-${prefix}${i}`);
  return klingIds.map((kid, i) => {
    const taskId = seededId(prefix, i);
    return { taskId, path: `/callbacks/kling/${seededToken(prefix, i)}`, body: klingCallbackBody(taskId, kid) };
  });
}

/** Waits until the job table is empty (bounded); returns how long it took. */
async function drain(ctx: Ctx, timeoutMs = 120_000): Promise<{ ms: number; left: number }> {
  const t0 = performance.now();
  for (;;) {
    const c = await ctx.server.call('counts', {});
    const left = Object.values(c.jobs as Record<string, number>).reduce((a, b) => a + b, 0);
    if (left === 0 || performance.now() - t0 > timeoutMs) return { ms: performance.now() - t0, left };
    await sleep(100);
  }
}

/** Polls `check` every `everyMs` until it returns a value (not undefined) or `timeoutMs` passes (then throws `what`). */
async function until<T>(
  what: string,
  timeoutMs: number,
  everyMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000}s`);
    await sleep(everyMs);
  }
}

/** Runs `phase` under the server's CPU profiler and writes the profile and its summary; returns what the phase returned. */
async function profiled<T>(ctx: Ctx, name: string, phase: () => Promise<T>): Promise<T> {
  mkdirSync(join(benchDir, 'profiles'), { recursive: true });
  const file = join(benchDir, 'profiles', `${name}-${ctx.db}.cpuprofile`);
  await ctx.server.call('profileStart');
  let result: T;
  try {
    result = await phase();
  } finally {
    await ctx.server.call('profileStop', { file });
  }
  const top = topFrames(file);
  writeFileSync(file.replace(/\.cpuprofile$/, '.top.txt'), top);
  console.log(`  profile of the server during ${name} (${ctx.db}): ${file}\n${top.replace(/^/gm, '    ')}`);
  return result;
}

/** Self time by function and by package, from a .cpuprofile. */
function topFrames(file: string, n = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number }[];
  };
  const total = p.nodes.reduce((s, x) => s + (x.hitCount ?? 0), 0) || 1;
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  for (const x of p.nodes) {
    const { functionName, url, lineNumber } = x.callFrame;
    const short = url
      .replace(/^file:\/\//, '')
      .replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
      .replace(/.*\/work\/main\//, '');
    const key = `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + x.hitCount);
    const pkg = url.startsWith('wasm://')
      ? '@electric-sql/pglite (wasm)'
      : (/node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
        (url.includes('/work/main/')
          ? url.replace(/.*\/work\/main\/((?:apps|packages|bench)\/[^/]+).*/, '$1')
          : url
            ? 'node:internal'
            : functionName));
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + x.hitCount);
  }
  const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
  const fns = [...byFn]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${pct(v)}  ${k}`);
  const pkgs = [...byPkg]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([k, v]) => `${pct(v)}  ${k}`);
  return `self time by function:\n${fns.join('\n')}\nself time by package:\n${pkgs.join('\n')}\n`;
}

// ---------------------------------------------------------------- S1 callback ingestion
async function s1(ctx: Ctx): Promise<Result> {
  const { tenantId } = await ctx.server.call('newTenant', { name: `s1-${RUN}` });
  // Fresh callbacks on hand, beyond what a machine moves (a fast one moved 1,200 tasks/s); should
  // they run out, the run is mostly replays, and the line says so and fails.
  const need = D.s1Seconds * 4000;
  const rawPrefix = `s1r${RUN}-`;
  await ctx.server.call('seedTasks', {
    tenantId,
    prefix: rawPrefix,
    from: 0,
    to: need - 1,
    status: 'SUBMITTED',
    tokens: true,
  });
  const raw = await ctx.server.call('rawTransitions', {
    prefix: rawPrefix,
    n: need,
    replay: 0.3,
    concurrency: D.s1Conns,
    durationMs: D.s1Seconds * 1000,
    warmMs: D.warmMs,
  });

  // The product warms up too (its statements prepared on its connections, the JIT warm), on tasks of its own.
  const warm = await callbackTasks(ctx, tenantId, `s1w${RUN}-`, Math.ceil((D.warmMs / 1000) * 3000));
  await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s1Conns,
    durationS: D.warmMs / 1000,
    spec: { kind: 'callbacks', fresh: warm.map(({ path, body }) => ({ path, body })), replay: 0.3 },
  });
  await drain(ctx);
  const cbs = await callbackTasks(ctx, tenantId, `s1a${RUN}-`, need);
  const before = await ctx.server.call('taskCounts', { tenantId });
  const cpu0: CpuReading = await ctx.server.call('cpu');
  const api = await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s1Conns,
    durationS: D.s1Seconds,
    spec: { kind: 'callbacks', fresh: cbs.map(({ path, body }) => ({ path, body })), replay: 0.3 },
  });
  const cpu1: CpuReading = await ctx.server.call('cpu');
  const dr = await drain(ctx);
  const after = await ctx.server.call('taskCounts', { tenantId });
  // A signed callback is applied in its request: what moved, moved within the run.
  const moved = (after.byStatus.PROCESSING ?? 0) - (before.byStatus.PROCESSING ?? 0);
  const movedPerSec = moved / api.seconds;
  const ratio = movedPerSec / raw.movedPerSec;
  const ranOut = api.fresh >= need;
  // Every answered fresh callback moved its task; one cut off by the end of the run may have too.
  const pass =
    ratio >= 0.6 &&
    !ranOut &&
    !raw.ranOut &&
    raw.badReplays === 0 &&
    api.bad === 0 &&
    moved >= api.freshAnswered &&
    moved <= api.fresh;
  if (!pass && PROFILE) {
    const more = await callbackTasks(ctx, tenantId, `s1p${RUN}-`, D.profileSeconds * 3000);
    await profiled(ctx, 'S1', async () => {
      await ctx.http.call('cannon', {
        url: ctx.api,
        connections: D.s1Conns,
        durationS: D.profileSeconds,
        spec: { kind: 'callbacks', fresh: more.map(({ path, body }) => ({ path, body })), replay: 0.3 },
      });
      await drain(ctx);
    });
  }
  return {
    id: 'S1',
    db: ctx.db,
    metric: 'moved_per_s',
    value: movedPerSec,
    baseline: raw.movedPerSec,
    ratio,
    target: '≥0.6',
    pass,
    notes:
      `tasks moved SUBMITTED→PROCESSING per second by signed Kling callbacks, ${D.s1Conns} conns ${D.s1Seconds}s, 30% of requests replays of earlier callbacks; ` +
      `API: ${api.fresh} fresh + ${api.replays} replays${ranOut ? ' (fresh callbacks ran out!)' : ''}, ${moved} moved for ${api.freshAnswered} fresh answered; accepted ${fmt(api.okPerSec)}/s, p99 ${api.latency.p99} ms; non-2xx ${api.bad}${api.badSample ? ` (${api.badSample})` : ''}; jobs drained in ${fmt(dr.ms / 1000)}s (${dr.left} left); ` +
      `API CPU ${fmt((cpu1.ms - cpu0.ms) / (moved || 1))} ms per task moved; load generator CPU ${pct(api.loadCpuMs, api.seconds * 1000)} of a core; ` +
      `baseline: fresh = transitionTask's statement (UPDATE…WHERE status IN, feed lock, event, webhook job; ${prepared(ctx)}, warmed ${fmt(D.warmMs / 1000)}s), replay = the product's token lookup (indexed SELECT by callback_token_hash), same concurrency and replay share: ` +
      `${raw.moved} moved + ${raw.replays} replays${raw.ranOut ? ' (baseline ran out of rows!)' : ''}${raw.badReplays ? ` (${raw.badReplays} replays did not find a PROCESSING task!)` : ''}, server CPU ${fmt(raw.cpuMs / (raw.moved || 1))} ms per task moved`,
  };
}

// ---------------------------------------------------------------- S2 callback → subscriber latency
const TASK_UPDATED = 'subscription ($id: ID!) { taskUpdated(id: $id) { id status } }';

async function s2(ctx: Ctx): Promise<Result> {
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s2-${RUN}` });
  type Acc = {
    api: number[];
    raw: number[];
    upd: number;
    lost: number;
    dup: number;
    rawLost: number;
    sendRate: number;
    carried: number[];
    rawCarried: number[];
    loadShare: number;
  };
  const per: Record<number, Acc> = {};
  let round = 0;
  /** One round of 1000 callbacks at `rate`; with `profileAs`, only the sending and delivery run under the profiler (not the seeding and subscribing). */
  const apiRound = async (rate: number, profileAs?: string) => {
    const prefix = `s2a${RUN}-${round++}-`;
    const cbs = await callbackTasks(ctx, tenantId, prefix, 1000);
    const keys = cbs.map((c) => taskGlobalId(c.taskId));
    await ctx.ws.call('connect', { url: ctx.api, mode: 'gql', keys, apiKey });
    const sub = await ctx.ws.call('subscribe', { query: TASK_UPDATED, perKeyVariable: 'id', waitFirstMs: 30_000 });
    if (!sub.ready)
      throw new Error(`S2: ${sub.notReady} subscriptions never sent their first state (errors ${sub.errors})`);
    const posts = cbs
      .map((c, i) => ({ key: keys[i]!, url: ctx.api + c.path, body: c.body }))
      .sort(() => Math.random() - 0.5);
    const send = () => ctx.ws.call('openLoop', { posts, rate, settleMs: 20_000 });
    const c0: CpuReading = await ctx.ws.call('cpu');
    const r = profileAs ? await profiled(ctx, profileAs, send) : await send();
    const c1: CpuReading = await ctx.ws.call('cpu');
    r.loadShare = cpuSpent(c0, c1).share;
    await ctx.ws.call('closeAll');
    await drain(ctx);
    return r;
  };
  for (const rate of [100, 1000]) {
    const rounds = D.s2Rounds[rate]!;
    const acc: Acc = (per[rate] = {
      api: [],
      raw: [],
      upd: NaN,
      lost: 0,
      dup: 0,
      rawLost: 0,
      sendRate: 0,
      carried: [],
      rawCarried: [],
      loadShare: 0,
    });
    // Baseline 1: bare POST → ws push, same sockets, same open-loop sender.
    for (let k = 0; k < rounds; k++) {
      const keys = Array.from({ length: 1000 }, (_, i) => `k${rate}-${k}-${i}`);
      await ctx.ws.call('connect', { url: ctx.raw, mode: 'raw', keys });
      const r = await ctx.ws.call('openLoop', {
        posts: keys.map((key) => ({ key, url: `${ctx.raw}/push/${key}`, body: '{}' })),
        rate,
        settleMs: 10_000,
      });
      acc.raw.push(...r.lat);
      acc.rawLost += r.lost + r.dup;
      acc.rawCarried.push(r.carriedPerSec);
      await ctx.ws.call('closeAll');
    }
    if (rate === 100) {
      // Baseline 2 (latency only): transitionTask's statement, prepared and warmed, at the same rate on the raw driver.
      const updPrefix = `s2u${RUN}-`;
      await ctx.server.call('seedTasks', {
        tenantId,
        prefix: updPrefix,
        from: 0,
        to: 999,
        status: 'SUBMITTED',
        tokens: false,
      });
      const upd = await ctx.server.call('rawUpdateLatency', {
        tenantId,
        ids: Array.from({ length: 1000 }, (_, i) => seededId(updPrefix, i)),
        rate,
      });
      acc.upd = upd.p99;
    }
    for (let k = 0; k < rounds; k++) {
      const r = await apiRound(rate);
      acc.api.push(...r.lat);
      acc.lost += r.lost;
      acc.dup += r.dup;
      acc.sendRate = r.sendRate;
      acc.carried.push(r.carriedPerSec);
      acc.loadShare = Math.max(acc.loadShare, r.loadShare);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
  const lat = per[100]!;
  const api = summarize(lat.api);
  const raw = summarize(lat.raw);
  const base = raw.p99 + lat.upd;
  const ratio = api.p99 / base;
  const cap = per[1000]!;
  const carried = mean(cap.carried);
  const rawCarried = mean(cap.rawCarried);
  const lost = lat.lost + cap.lost;
  const dup = lat.dup + cap.dup;
  const pass = ratio <= 2 && lost === 0 && dup === 0;
  if (!pass && PROFILE) await apiRound(ratio > 2 ? 100 : 1000, 'S2');
  const cs = summarize(cap.api);
  return {
    id: 'S2',
    db: ctx.db,
    metric: 'p99_ms@100/s',
    value: api.p99,
    baseline: base,
    ratio,
    target: '≤2',
    pass,
    more: [{ metric: 'carried_per_s@1000/s', value: carried, baseline: rawCarried, ratio: carried / rawCarried }],
    notes:
      `1000 taskUpdated subscribers per round, each on its own task; 100/s (sent at ${fmt(lat.sendRate)}/s, ${lat.api.length} pushes): p50 ${fmt(api.p50)} p99 ${fmt(api.p99)} ms vs raw POST→push p99 ${fmt(raw.p99)} + transition statement (${prepared(ctx)}) p99 ${fmt(lat.upd)} = ${fmt(base)}; ` +
      `lost ${lat.lost}, duplicated ${lat.dup}; 1000/s offered (capacity, not latency: pushes delivered ÷ time from the first POST to the last push): API carried ${fmt(carried)}/s (p50 ${fmt(cs.p50)}, p99 ${fmt(cs.p99)} ms), raw ${fmt(rawCarried)}/s; lost ${cap.lost}, duplicated ${cap.dup}; raw lost/dup ${lat.rawLost + cap.rawLost}; sender/receiver process CPU ${pct(cap.loadShare, 1)} of a core at 1000/s`,
  };
}

// ---------------------------------------------------------------- S3 tenant feed fan-out
const TASK_EVENTS = 'subscription { taskEvents { cursor status message occurredAt } }';

/** Splits `keys` over the subscriber load generators (round robin). */
const spread = <T>(ctx: Ctx, keys: T[]) => ctx.wss.map((_, j) => keys.filter((_, i) => i % ctx.wss.length === j));

async function connectAll(
  ctx: Ctx,
  a: { url: string; mode: 'gql' | 'raw'; keys: string[]; apiKey?: string },
): Promise<{ ms: number }> {
  const t0 = performance.now();
  const parts = spread(ctx, a.keys);
  await Promise.all(ctx.wss.map((w, j) => w.call('connect', { ...a, keys: parts[j] })));
  return { ms: performance.now() - t0 };
}

/**
 * One burst over every subscriber load generator: each is armed to expect `expect` events per socket,
 * the first one sends `posts`, then each waits (bounded) for its sockets. The time runs from the first
 * POST to the last delivery in any of them (epoch clock, same machine).
 */
async function burst(ctx: Ctx, posts: { url: string; body: string }[], expect: number, timeoutMs: number) {
  const armed = await Promise.all(ctx.wss.map((w) => w.call('arm', { expect })));
  const sent = await ctx.wss[0]!.call('post', { posts });
  const got = await Promise.all(ctx.wss.map((w, j) => w.call('settle', { timeoutMs, dupBase: armed[j].dupBase })));
  const lastAt = Math.max(...got.map((g) => g.lastAt));
  return {
    ms: lastAt - sent.t0,
    delivered: got.reduce((s, g) => s + g.delivered, 0),
    expected: got.reduce((s, g) => s + g.expected, 0),
    dup: got.reduce((s, g) => s + g.dup, 0),
    complete: got.every((g) => g.complete),
    badStatus: sent.badStatus as number,
  };
}

const cpuAll = (peers: Peer[]): Promise<CpuReading[]> => Promise.all(peers.map((p) => p.call('cpu')));
const cpuDelta = (a: CpuReading[], b: CpuReading[]) => a.reduce((s, x, i) => s + (b[i]!.ms - x.ms), 0);

async function s3(ctx: Ctx): Promise<Result> {
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s3-${RUN}` });
  const B = D.s3Events;
  const N = D.s3Subs;
  const keys = Array.from({ length: N }, (_, i) => `s${i}`);
  const closeAll = () => Promise.all(ctx.wss.map((w) => w.call('closeAll')));
  // Baseline: a bare ws server broadcasting a pre-serialized payload to the same number of sockets, spread the same way.
  const rawConn = await connectAll(ctx, { url: ctx.raw, mode: 'raw', keys });
  await burst(ctx, [{ url: `${ctx.raw}/broadcast?n=1`, body: '' }], 1, 30_000);
  let rawMs = 0;
  let rawDelivered = 0;
  let rawServerCpu = 0;
  let rawLoadCpu = 0;
  for (let b = 0; b < D.s3Bursts; b++) {
    const c0 = await cpuAll([ctx.rawServer, ...ctx.wss]);
    const r = await burst(ctx, [{ url: `${ctx.raw}/broadcast?n=${B}`, body: '' }], B, 60_000);
    const c1 = await cpuAll([ctx.rawServer, ...ctx.wss]);
    rawServerCpu += c1[0]!.ms - c0[0]!.ms;
    rawLoadCpu += cpuDelta(c0.slice(1), c1.slice(1));
    rawMs += r.ms;
    rawDelivered += r.delivered;
  }
  await closeAll();
  const rawRate = rawDelivered / (rawMs / 1000);

  const cbs = await callbackTasks(ctx, tenantId, `s3a${RUN}-`, 1 + B * (D.s3Bursts + 1));
  const conn = await connectAll(ctx, { url: ctx.api, mode: 'gql', keys, apiKey });
  await Promise.all(ctx.wss.map((w) => w.call('subscribe', { query: TASK_EVENTS })));
  let used = 0;
  const take = (n: number) => cbs.slice(used, (used += n)).map((c) => ({ url: ctx.api + c.path, body: c.body }));
  // Warm-up: one event seen by every socket proves every subscription is live.
  const warm = await burst(ctx, take(1), 1, 120_000);
  if (!warm.complete) throw new Error(`S3: warm-up event reached ${warm.delivered}/${warm.expected} subscribers`);
  let apiMs = 0;
  let delivered = 0;
  let expected = 0;
  let dup = 0;
  let incomplete = 0;
  let apiCpu = 0;
  let loadCpu = 0;
  for (let b = 0; b < D.s3Bursts; b++) {
    const c0 = await cpuAll([ctx.server, ...ctx.wss]);
    const r = await burst(ctx, take(B), B, QUICK ? 60_000 : 120_000);
    const c1 = await cpuAll([ctx.server, ...ctx.wss]);
    apiCpu += c1[0]!.ms - c0[0]!.ms;
    loadCpu += cpuDelta(c0.slice(1), c1.slice(1));
    apiMs += r.ms;
    delivered += r.delivered;
    expected += r.expected;
    dup += r.dup;
    if (!r.complete) incomplete++;
    await drain(ctx);
  }
  const apiRate = delivered / (apiMs / 1000);
  const ratio = apiRate / rawRate;
  const pass = ratio >= 0.5 && delivered === expected && dup === 0;
  if (!pass && PROFILE) await profiled(ctx, 'S3', () => burst(ctx, take(B), B, 120_000));
  await closeAll();
  const us = (ms: number, n: number) => (1000 * ms) / (n || 1);
  return {
    id: 'S3',
    db: ctx.db,
    metric: 'delivered_events_per_s',
    value: apiRate,
    baseline: rawRate,
    ratio,
    target: '≥0.5',
    pass,
    more: [
      {
        metric: 'server_cpu_us_per_delivery',
        value: us(apiCpu, delivered),
        baseline: us(rawServerCpu, rawDelivered),
        ratio: us(apiCpu, delivered) / us(rawServerCpu, rawDelivered),
      },
    ],
    notes:
      `${N} taskEvents subscribers on one tenant over ${ctx.wss.length} load processes, ${D.s3Bursts} bursts of ${B} callbacks→events; delivered ${delivered}/${expected}, duplicated or out of order ${dup}, ${incomplete} bursts timed out; ` +
      `API ${fmt(apiMs / D.s3Bursts)} ms/burst (incl. callback→event) vs raw broadcast ${fmt(rawMs / D.s3Bursts)} ms/burst; ` +
      `server CPU per delivered event ${fmt(us(apiCpu, delivered))} µs (API, incl. the callbacks) vs ${fmt(us(rawServerCpu, rawDelivered))} µs (raw server); ` +
      `load generators' CPU per delivered event ${fmt(us(loadCpu, delivered))} µs (API run) / ${fmt(us(rawLoadCpu, rawDelivered))} µs (raw run), i.e. ${pct(loadCpu, apiMs)} / ${pct(rawLoadCpu, rawMs)} of one core during the bursts; ` +
      `connect ${fmt(conn.ms / 1000)}s (raw ${fmt(rawConn.ms / 1000)}s)`,
  };
}

// ---------------------------------------------------------------- S4 create → SUBMITTED, and what a task costs the database
/** A create mutation and the fields of its answer (the union's members the bench tells apart). */
const createMutation = (field: string, inputType: string) => `mutation Create($input: ${inputType}!) {
  ${field}(input: $input) {
    __typename
    ... on Task { id status externalTaskId }
    ... on ValidationError { message issues { path message } }
    ... on DuplicateExternalTaskId { message externalTaskId }
  }
}`;
const CREATE_AVATAR = createMutation('createAvatarVideo', 'CreateAvatarVideoInput');
const CREATE_SOUND = createMutation('createVideoSound', 'CreateVideoSoundInput');

type Media = 'url' | 'inline';

/**
 * The create under test. Inline: createAvatarVideo (Kling) with a base64 portrait and speech, which
 * the API probes, stores in media_objects and sends to Kling inline. URL: createVideoSound (Kling)
 * with a video URL, which the API fetches and probes and hands on as the URL. (The simulator's origin
 * is the one loopback origin the API's media fetcher may reach, and it serves a video but no image,
 * so the URL case is Kling's video-to-audio.)
 */
function createBody(ctx: Ctx, media: Media): string {
  if (media === 'url')
    return JSON.stringify({
      query: CREATE_SOUND,
      variables: { input: { video: { url: `${ctx.simUrl}/media/kling/video-with-sound-sample.mp4` } } },
    });
  const fixtures = join(benchDir, '..', 'packages', 'providers', 'media', 'fixtures');
  const input = {
    image: { base64: readFileSync(join(fixtures, 'portrait-512x640.png')).toString('base64') },
    audio: { base64: readFileSync(join(fixtures, 'speech-3s.mp3')).toString('base64') },
  };
  return JSON.stringify({ query: CREATE_AVATAR, variables: { input } });
}

const createSpec = (apiKey: string, body: string) => ({
  kind: 'fixed',
  method: 'POST',
  path: '/graphql',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
  body,
  expect: '"__typename":"Task"',
});

/** Waits (bounded) until no task of the tenant is PENDING; returns its counts. */
const allSubmitted = (ctx: Ctx, tenantId: string, timeoutMs: number) =>
  until(`S4: tasks of ${tenantId} still PENDING`, timeoutMs, 100, async () => {
    const c = await ctx.server.call('taskCounts', { tenantId });
    return (c.byStatus.PENDING ?? 0) === 0
      ? (c as { byStatus: Record<string, number>; total: number; submitted: number; lastSubmittedMs: number })
      : undefined;
  });

/**
 * Sustained create → SUBMITTED: creates at D.s4Conns connections for D.s4Seconds, then until every
 * task created is SUBMITTED in the database; tasks submitted (submitted_at set, whatever their status since) ÷ (last submitted_at − first create
 * sent). Then the raw replay of the create's own statements at the same concurrency (server.ts). Each
 * side warms up first on a tenant of its own.
 */
async function sustained(ctx: Ctx, media: Media) {
  const body = createBody(ctx, media);
  const warmT = await ctx.server.call('newTenant', { name: `s4w${media}-${RUN}` });
  await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s4Conns,
    durationS: D.warmMs / 1000,
    spec: createSpec(warmT.apiKey, body),
  });
  await allSubmitted(ctx, warmT.tenantId, 300_000);
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s4${media}-${RUN}` });
  const peers = [ctx.server, ctx.sim, ctx.http];
  const c0 = await cpuAll(peers);
  const t0 = Date.now();
  const api = await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s4Conns,
    durationS: D.s4Seconds,
    spec: createSpec(apiKey, body),
  });
  const createdAt = Date.now();
  const counts = await allSubmitted(ctx, tenantId, 300_000);
  const c1 = await cpuAll(peers);
  const submitted = counts.submitted;
  const seconds = (counts.lastSubmittedMs - t0) / 1000;
  const rawT = await ctx.server.call('newTenant', { name: `s4${media}r-${RUN}` });
  const rawWarmT = await ctx.server.call('newTenant', { name: `s4${media}rw-${RUN}` });
  const raw = await ctx.server.call(
    'rawCreates',
    {
      tenantId: rawT.tenantId,
      warmTenantId: rawWarmT.tenantId,
      templateTenantId: tenantId,
      concurrency: D.s4Conns,
      workers: ctx.workerConcurrency,
      durationMs: D.s4Seconds * 1000,
      warmMs: D.warmMs,
    },
    900_000,
  );
  for (const t of [warmT, { tenantId }, rawT, rawWarmT]) await ctx.server.call('retireTasks', { tenantId: t.tenantId });
  return {
    media,
    perSec: submitted / seconds,
    rawPerSec: raw.perSec,
    ratio: submitted / seconds / raw.perSec,
    created: counts.total,
    submitted,
    seconds,
    drainS: (counts.lastSubmittedMs - createdAt) / 1000,
    api,
    bodyKiB: body.length / 1024,
    apiCpuMsPerCreate: (c1[0]!.ms - c0[0]!.ms) / (counts.total || 1),
    simCpu: cpuSpent(c0[1]!, c1[1]!),
    loadCpu: cpuSpent(c0[2]!, c1[2]!),
    raw,
    rawCpuMsPerCreate: raw.cpuMs / (raw.created || 1),
  };
}

/** The API's side of a sustained run again, briefly, under the CPU profiler. */
async function profileCreates(ctx: Ctx, media: Media): Promise<void> {
  const p = await ctx.server.call('newTenant', { name: `s4${media}p-${RUN}` });
  await profiled(ctx, `S4-${media}`, async () => {
    await ctx.http.call('cannon', {
      url: ctx.api,
      connections: D.s4Conns,
      durationS: D.profileSeconds,
      spec: createSpec(p.apiKey, createBody(ctx, media)),
    });
    await allSubmitted(ctx, p.tenantId, 300_000);
  });
  await ctx.server.call('retireTasks', { tenantId: p.tenantId });
}

/**
 * Committed transactions per task, create → SUCCEEDED with two provider callbacks, and the idle rate.
 * xact_commit of the bench database (pg_stat_database, after pg_stat_clear_snapshot()): on Postgres
 * read over the admin database; on PGlite over its one connection, the bench's own statements (each
 * one transaction) subtracted. Backends flush their counters to the shared stats at most once a second,
 * and an idle backend may hold them up to 10 s (PGSTAT_IDLE_INTERVAL), so each reading that closes a
 * phase follows a settle of that bound (Postgres; 1.5 s on PGlite, whose one backend flushes at its next
 * statement once a second has passed), polled every 500 ms.
 */
async function transactions(ctx: Ctx) {
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s4x-${RUN}` });
  type X = { commits: number; benchStatements: number; at: number };
  const read = (): Promise<X> => ctx.server.call('xacts');
  const settleMs = ctx.db === 'postgres' ? 10_500 : 1_500;
  const settled = async (ms: number): Promise<X> => {
    const start = Date.now();
    let x = await read();
    while (x.at - start < ms) {
      await sleep(500);
      x = await read();
    }
    return x;
  };
  const own = (a: X, b: X) => b.commits - a.commits - (b.benchStatements - a.benchStatements);
  const a = await settled(settleMs);
  const b = await settled(D.s4IdleSeconds * 1000);
  const idlePerSec = own(a, b) / ((b.at - a.at) / 1000);

  const n = D.s4XactTasks;
  const c0: CpuReading = await ctx.server.call('cpu');
  const created = await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s4XactConns,
    durationS: 600,
    amount: n,
    spec: createSpec(apiKey, createBody(ctx, 'inline')),
  });
  if (created.ok !== n) throw new Error(`S4: ${created.ok}/${n} creates answered a Task (${created.badSample})`);
  await allSubmitted(ctx, tenantId, 300_000);
  const ids: string[] = await ctx.server.call('taskIds', { tenantId });
  const cb = await ctx.sim.call('klingCallbacks', {
    externalIds: ids,
    capability: 'avatar',
    concurrency: D.s4XactConns,
    timeoutMs: 60_000,
  });
  const done = await until('S4: tasks not SUCCEEDED after their callbacks', 60_000, 100, async () => {
    const c = await ctx.server.call('taskCounts', { tenantId });
    return (c.byStatus.SUCCEEDED ?? 0) === n ? c : undefined;
  });
  await until('S4: jobs left after the tasks succeeded', 60_000, 100, async () =>
    (await ctx.server.call('jobCount')) === 0 ? true : undefined,
  );
  const c1: CpuReading = await ctx.server.call('cpu');
  const d = await settled(settleMs);
  const total = own(b, d);
  const idleShare = idlePerSec * ((d.at - b.at) / 1000);
  return {
    n,
    perTask: (total - idleShare) / n,
    idlePerSec,
    total,
    idleShare,
    windowS: (d.at - b.at) / 1000,
    answers: cb.answers as Record<string, number>,
    succeeded: done.byStatus.SUCCEEDED as number,
    apiCpuMsPerTask: (c1.ms - c0.ms) / n,
    benchStatements: d.benchStatements - b.benchStatements,
  };
}

async function s4(ctx: Ctx): Promise<Result> {
  // The simulator's own callbacks are off: the throughput phases measure create → SUBMITTED alone, and
  // the transaction count sends exactly two per task itself. Kling tasks succeed at the simulator at
  // once; every S4 task is taken off the poll schedule afterwards (retireTasks), so none is polled later.
  await ctx.sim.call('klingMode', { callbacks: false, timing: { processingAfterMs: 0, succeedAfterMs: 1 } });
  try {
    const x = await transactions(ctx);
    const url = await sustained(ctx, 'url');
    const inline = await sustained(ctx, 'inline');
    const pass = url.ratio >= 0.5;
    const inlinePass = inline.ratio >= 0.5;
    if (PROFILE && !(pass && inlinePass)) await profileCreates(ctx, inline.ratio < url.ratio ? 'inline' : 'url');
    const side = (s: Awaited<ReturnType<typeof sustained>>) =>
      `${s.media} (${fmt(s.bodyKiB)} KiB request): ${s.created} created in ${D.s4Seconds}s at ${fmt(s.api.okPerSec)}/s (p99 ${s.api.latency.p99} ms, errors ${s.api.bad}${s.api.badSample ? ` ${s.api.badSample.slice(0, 120)}` : ''}), ` +
      `${s.submitted} SUBMITTED ${fmt(s.seconds)}s after the first create (backlog drained ${fmt(s.drainS)}s after the last); ` +
      `API CPU ${fmt(s.apiCpuMsPerCreate)} ms/create; simulator ${pct(s.simCpu.share, 1)}, load generator ${pct(s.loadCpu.share, 1)} of a core; ` +
      `raw replay ${s.raw.created} created in ${fmt(s.raw.createSeconds)}s, all SUBMITTED in ${fmt(s.raw.seconds)}s, server CPU ${fmt(s.rawCpuMsPerCreate)} ms/create`;
    return {
      id: 'S4',
      db: ctx.db,
      metric: 'url_submitted_per_s',
      value: url.perSec,
      baseline: url.rawPerSec,
      ratio: url.ratio,
      target: '≥0.5',
      pass,
      more: [
        {
          metric: 'inline_submitted_per_s',
          value: inline.perSec,
          baseline: inline.rawPerSec,
          ratio: inline.ratio,
          target: '≥0.5',
          pass: inlinePass,
        },
        { metric: 'transactions_per_task', value: x.perTask, target: '≤5', pass: x.perTask <= 5 },
        { metric: 'idle_transactions_per_s', value: x.idlePerSec, target: '≤1', pass: x.idlePerSec <= 1 },
        { metric: 'api_cpu_ms_per_create', value: inline.apiCpuMsPerCreate, baseline: inline.rawCpuMsPerCreate },
      ],
      notes:
        `sustained create→SUBMITTED at ${D.s4Conns} conns (product's submit worker concurrency ${ctx.workerConcurrency}, the raw replay's too), simulator callbacks off; ` +
        `${side(url)}; ${side(inline)}; ` +
        `raw replay = the create's own statements on the product's tables (${prepared(ctx)}, warmed): [inline: ${inline.raw.media} files written (flushed, renamed)] + tx 1 [inline: media_objects rows ×${inline.raw.media}] + submit job + task with its event (feed lock); ` +
        `tx 2 claim (UPDATE … FOR UPDATE SKIP LOCKED) + read the task [inline: its media rows, then their files] + task SUBMITTED with its event and the job deleted; no provider call; ` +
        `api_cpu_ms_per_create = API process CPU from the first create until all SUBMITTED ÷ creates (inline; url ${fmt(url.apiCpuMsPerCreate)}), baseline = the raw replay's (url ${fmt(url.rawCpuMsPerCreate)}); ` +
        `transactions: ${x.n} inline Kling tasks created at ${D.s4XactConns} conns, SUBMITTED, then 2 signed callbacks each from the simulator (answers ${JSON.stringify(x.answers)}), ${x.succeeded} SUCCEEDED; ` +
        `${fmt(x.total)} commits in ${fmt(x.windowS)}s less idle ${fmt(x.idlePerSec)}/s × ${fmt(x.windowS)}s = ${fmt(x.idleShare)}${ctx.db === 'pglite' ? ` (PGlite: the bench's own ${x.benchStatements} statements subtracted too)` : ''} → ${fmt(x.perTask)}/task; ` +
        `idle rate over ${D.s4IdleSeconds}s of this instance with nothing to do; API CPU ${fmt(x.apiCpuMsPerTask)} ms per task create→SUCCEEDED`,
    };
  } finally {
    await ctx.sim.call('klingMode', {
      callbacks: true,
      timing: { processingAfterMs: 0, succeedAfterMs: 24 * 3600_000 },
    });
  }
}

// ---------------------------------------------------------------- S5 pagination
const TASKS_PAGE =
  'query ($after: String) { tasks(first: 20, after: $after) { edges { cursor node { id status createdAt } } pageInfo { hasNextPage endCursor } } }';

async function s5(ctx: Ctx): Promise<Result> {
  const rows = ctx.db === 'postgres' ? 1_000_000 : 200_000;
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s5-${RUN}` });
  const seeded = await ctx.server.call(
    'seedTasks',
    { tenantId, prefix: `s5${RUN}-`, from: 1, to: rows, status: 'SUCCEEDED', tokens: false, chunk: 100_000 },
    1_800_000,
  );
  const cur = await ctx.server.call('cursorAt', { tenantId, offset: 20 * 9999 - 1 });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  const p1 = JSON.stringify({ query: TASKS_PAGE, variables: { after: null } });
  const p10k = JSON.stringify({ query: TASKS_PAGE, variables: { after: cur.cursor } });
  ctx.s5 = { tenantId, apiKey, bodies: [p1, p10k] };
  const lat = (body: string) =>
    ctx.http.call('latency', {
      url: `${ctx.api}/graphql`,
      headers,
      body,
      concurrency: 4,
      durationMs: D.s5Ms,
      expect: '"edges"',
    });
  await lat(p1); // warm-up
  const l1 = await lat(p1);
  const l10k = await lat(p10k);
  const api = await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s5Conns,
    durationS: D.s5Ms / 1000,
    spec: { kind: 'fixed', method: 'POST', path: '/graphql', headers, body: p10k, expect: '"edges":[{' },
  });
  // graphql-relay asks listTasks for first+1 rows to know hasNextPage: the raw query fetches 21 too.
  const raw = await ctx.server.call('rawKeyset', {
    tenantId,
    cursor: { id: cur.id, createdAt: cur.createdAt },
    concurrency: D.s5Conns,
    durationMs: D.s5Ms,
    limit: 21,
  });
  const r1 = l10k.latency.p99 / l1.latency.p99;
  const r2 = api.okPerSec / raw.opsPerSec;
  const pass1 = r1 <= 1.2 && l1.bad === 0 && l10k.bad === 0;
  const pass2 = r2 >= 0.4 && api.bad === 0;
  if (!(pass1 && pass2) && PROFILE) {
    await profiled(ctx, 'S5', () =>
      ctx.http.call('cannon', {
        url: ctx.api,
        connections: D.s5Conns,
        durationS: D.profileSeconds,
        spec: { kind: 'fixed', method: 'POST', path: '/graphql', headers, body: p10k },
      }),
    );
  }
  return {
    id: 'S5',
    db: ctx.db,
    metric: 'page10000_p99_ms',
    value: l10k.latency.p99,
    baseline: l1.latency.p99,
    ratio: r1,
    target: '≤1.2',
    pass: pass1,
    more: [
      {
        metric: 'page10000_req_per_s',
        value: api.okPerSec,
        baseline: raw.opsPerSec,
        ratio: r2,
        target: '≥0.4',
        pass: pass2,
      },
    ],
    notes:
      `${rows} rows seeded by generate_series in ${fmt(seeded.ms / 1000)}s; first: 20; p99 over ${l1.latency.n}/${l10k.latency.n} requests at 4 conns (p50 ${fmt(l1.latency.p50)}/${fmt(l10k.latency.p50)} ms); ` +
      `throughput ${D.s5Conns} conns (load generator CPU ${pct(api.loadCpuMs, api.seconds * 1000)} of a core) vs the same keyset SELECT … LIMIT 21 on the raw driver (${prepared(ctx)}, warmed; p99 ${fmt(raw.latency.p99)} ms); errors ${api.bad + l1.bad + l10k.bad}${api.badSample || l1.badSample ? ` (${api.badSample || l1.badSample})` : ''}`,
  };
}

// ---------------------------------------------------------------- S6 soak
async function s6(ctx: Ctx): Promise<Result> {
  const soak = D.s6Seconds;
  const rate = 200;
  const idle = await ctx.server.call('newTenant', { name: `s6i-${RUN}` });
  const { tenantId } = await ctx.server.call('newTenant', { name: `s6-${RUN}` });
  if (!ctx.s5) {
    // S5 did not run: a smaller pagination tenant of its own.
    const t = await ctx.server.call('newTenant', { name: `s6p-${RUN}` });
    await ctx.server.call('seedTasks', {
      tenantId: t.tenantId,
      prefix: `s6p${RUN}-`,
      from: 1,
      to: 50_000,
      status: 'SUCCEEDED',
      tokens: false,
    });
    const cur = await ctx.server.call('cursorAt', { tenantId: t.tenantId, offset: 20 * 1999 - 1 });
    ctx.s5 = {
      ...t,
      bodies: [
        JSON.stringify({ query: TASKS_PAGE, variables: { after: null } }),
        JSON.stringify({ query: TASKS_PAGE, variables: { after: cur.cursor } }),
      ],
    };
  }
  const cbs = await callbackTasks(ctx, tenantId, `s6a${RUN}-`, Math.ceil(rate * soak * 0.75));
  const keys = Array.from({ length: 5000 }, (_, i) => `i${i}`);
  await connectAll(ctx, { url: ctx.api, mode: 'gql', keys, apiKey: idle.apiKey });
  await Promise.all(ctx.wss.map((w) => w.call('subscribe', { query: TASK_EVENTS })));
  // The subscriptions' setup done (each answers a first state or nothing; there is no message to wait for), the idle window starts.
  await sleep(2000);
  await ctx.server.call('stats', { reset: true });
  await sleep(D.s6IdleSeconds * 1000);
  const idleStats = await ctx.server.call('stats', { reset: true });
  // Every 5 s the heap and RSS as they are, and every 15 s right after a full GC: between major
  // collections the heap fills with garbage (a sawtooth of ~300 MB at this load), so only post-GC
  // samples show what is retained. The memory figure is the post-GC heap's slope.
  const samples: { t: number; rss: number; heap: number }[] = [];
  const retained: { t: number; rss: number; heap: number }[] = [];
  const t0 = performance.now();
  let sampling = true;
  const sampler = (async () => {
    for (let i = 0; sampling; i++) {
      const gc = i % 3 === 2;
      const s = await ctx.server.call('stats', { gc });
      const t = (performance.now() - t0) / 60_000;
      (gc ? retained : samples).push({ t, rss: s.rss / 1048576, heap: s.heapUsed / 1048576 });
      await sleep(5000);
    }
  })();
  const s5ctx = ctx.s5!;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${s5ctx.apiKey}` };
  const load0 = await cpuAll([ctx.http, ...ctx.wss]);
  // The soak's two loads: the same rate, connections and duration, each its own spec.
  const soakLoad = (spec: Record<string, unknown>) =>
    ctx.http.call(
      'cannon',
      { url: ctx.api, connections: 8, durationS: soak, overallRate: rate, spec },
      (soak + 120) * 1000,
    );
  const [cb, pages] = await Promise.all([
    soakLoad({ kind: 'callbacks', fresh: cbs.map(({ path, body }) => ({ path, body })), replay: 0.3 }),
    soakLoad({ kind: 'pages', headers, bodies: s5ctx.bodies, expect: '"edges"' }),
  ]);
  const load1 = await cpuAll([ctx.http, ...ctx.wss]);
  const soakStats = await ctx.server.call('stats', {});
  sampling = false;
  await sampler;
  const subs = await Promise.all(ctx.wss.map((w) => w.call('counts')));
  const open = subs.reduce((s, x) => s + x.open, 0);
  const subErrors = subs.reduce((s, x) => s + x.errors, 0);
  await Promise.all(ctx.wss.map((w) => w.call('closeAll')));
  const dr = await drain(ctx);
  // Growth (least-squares slope, MB/min) after the first fifth of the soak.
  const after = <T extends { t: number }>(list: T[]) => list.filter((s) => s.t >= soak / 60 / 5);
  const slopeOf = (points: { t: number; v: number }[]) => {
    const mx = points.reduce((a, s) => a + s.t, 0) / points.length;
    const my = points.reduce((a, s) => a + s.v, 0) / points.length;
    return (
      points.reduce((a, s) => a + (s.t - mx) * (s.v - my), 0) / (points.reduce((a, s) => a + (s.t - mx) ** 2, 0) || 1)
    );
  };
  const tail = after(retained);
  const heapSlope = slopeOf(tail.map((s) => ({ t: s.t, v: s.heap })));
  const rssSlope = slopeOf(tail.map((s) => ({ t: s.t, v: s.rss })));
  const rawSlope = slopeOf(after(samples).map((s) => ({ t: s.t, v: s.rss })));
  const ratio = soakStats.eldP99Ms / idleStats.eldP99Ms;
  // Carried: requests completed per second against the offered rate, each stream on its own.
  const carried = Math.min(cb.ok / soak, pages.ok / soak) / rate;
  const pass1 = ratio <= 2;
  const pass2 = heapSlope < 1;
  const pass3 = carried >= D.s6Carried && cb.bad === 0 && pages.bad === 0;
  return {
    id: 'S6',
    db: ctx.db,
    metric: 'eventloop_p99_ms',
    value: soakStats.eldP99Ms,
    baseline: idleStats.eldP99Ms,
    ratio,
    target: '≤2',
    pass: pass1,
    more: [
      { metric: 'heap_growth_mb_per_min', value: heapSlope, target: '<1', pass: pass2 },
      { metric: 'carried_share', value: carried, target: `≥${D.s6Carried}`, pass: pass3 },
    ],
    notes:
      `${QUICK ? 'QUICK: ' : ''}soak ${soak}s (${fmt(soak / 60)} min) with 5000 idle taskEvents subscribers over ${ctx.wss.length} load processes (${open} still open, ${subErrors} errors) ` +
      `+ callbacks offered ${rate}/s, completed ${fmt(cb.ok / soak)}/s (${cb.bad} non-2xx) + tasks pages offered ${rate}/s, completed ${fmt(pages.ok / soak)}/s (${pages.bad} errors); ` +
      `idle baseline ${D.s6IdleSeconds}s with the subscribers connected; monitorEventLoopDelay resolution 1 ms (mean idle ${fmt(idleStats.eldMeanMs)}, soak ${fmt(soakStats.eldMeanMs)} ms; soak max ${fmt(soakStats.eldMaxMs)} ms); ` +
      `heap after a full GC (every 15 s) ${fmt(retained[0]?.heap ?? NaN)}→${fmt(retained.at(-1)?.heap ?? NaN)} MB, slope over the last 80% (${tail.length} samples); ` +
      `RSS after GC ${fmt(retained[0]?.rss ?? NaN)}→${fmt(retained.at(-1)?.rss ?? NaN)} MB (${fmt(rssSlope)} MB/min), as sampled (no GC, every 5 s) ${fmt(Math.min(...samples.map((s) => s.rss)))}–${fmt(Math.max(...samples.map((s) => s.rss)))} MB (${fmt(rawSlope)} MB/min); ` +
      `load generators' CPU ${pct(cpuDelta(load0, load1), soak * 1000)} of a core; backlog drained in ${fmt(dr.ms / 1000)}s`,
  };
}

// S4 first: it measures creates and an idle instance's transactions on a fresh database, before the
// other scenarios' thousands of seeded running Kling tasks are there.
const SCENARIOS: [string, (ctx: Ctx) => Promise<Result>][] = [
  ['S4', s4],
  ['S1', s1],
  ['S2', s2],
  ['S3', s3],
  ['S5', s5],
  ['S6', s6],
];

async function runDb(db: string): Promise<Result[]> {
  let dbUrl: string | undefined;
  let dropDb: (() => Promise<void>) | undefined;
  if (db === 'postgres') {
    const name = `clipwire_bench_${RUN}`;
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    dbUrl = u.toString();
    dropDb = async () => {
      const a = postgres(PG_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    };
  }
  const src = (f: string) => join(benchDir, 'src', f);
  const peers: Peer[] = [];
  const results: Result[] = [];
  try {
    const sim = spawnPeer(src('sim.ts'), { core: 1, name: 'simulator' });
    peers.push(sim);
    await sim.ready;
    const simInfo = await sim.call('info');
    // NODE_ENV=production as the Dockerfile and docker-compose.yml run the API (graphql-js, for one,
    // checks it at load time to drop its development-only checks), not only in the product's config.
    const server = spawnPeer(src('server.ts'), {
      core: 0,
      name: 'api',
      env: {
        BENCH_SIM_URL: simInfo.url,
        BENCH_DATABASE_URL: dbUrl ?? '',
        BENCH_ADMIN_URL: PG_URL,
        NODE_ENV: 'production',
      },
      nodeArgs: ['--max-old-space-size=4096', '--expose-gc'],
    });
    const raw = spawnPeer(src('raw-server.ts'), { core: 0, name: 'raw-server' });
    const http = spawnPeer(src('load/http.ts'), { core: 1, name: 'http-load' });
    // Two subscriber load generators: thousands of sockets spread over them (S3, S6).
    const wss = [1, 2].map((k) => spawnPeer(src('load/ws.ts'), { core: 1, name: `ws-load-${k}` }));
    peers.push(server, raw, http, ...wss);
    await Promise.all([server.ready, raw.ready, http.ready, ...wss.map((w) => w.ready)]);
    const info = await server.call('info');
    const rawInfo = await raw.call('info');
    console.log(
      `# ${db}: API ${info.url} (pid ${info.pid}, ${info.driver}${info.rls ? ', row-level security' : ''}), simulator ${simInfo.url}, raw baseline ${rawInfo.url}`,
    );
    const ctx: Ctx = {
      db,
      api: info.url,
      raw: rawInfo.url,
      simUrl: simInfo.url,
      workerConcurrency: info.workerConcurrency,
      server,
      rawServer: raw,
      sim,
      http,
      ws: wss[0]!,
      wss,
    };
    for (const [id, fn] of SCENARIOS) {
      if (ONLY && !ONLY.includes(id)) continue;
      const t0 = performance.now();
      try {
        const r = await fn(ctx);
        results.push(r);
        console.log(`${line(r)}  (${fmt((performance.now() - t0) / 1000)}s)`);
      } catch (error) {
        const r: Result = {
          id,
          db,
          metric: 'error',
          value: NaN,
          baseline: NaN,
          ratio: NaN,
          target: '-',
          pass: false,
          notes: `ERROR ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        };
        results.push(r);
        console.log(line(r));
        await Promise.all(ctx.wss.map((w) => w.call('closeAll').catch(() => {})));
      }
    }
  } finally {
    for (const p of peers.reverse()) await p.stop().catch(() => {});
    await dropDb?.().catch((e: unknown) => console.error(`could not drop the scratch database: ${e}`));
  }
  return results;
}

function machine(): string {
  const model =
    /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const nproc = execSync('nproc').toString().trim();
  const mem = `${Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1048576)} GiB`;
  let pg = '';
  try {
    pg = execSync(`psql "${PG_URL}" -Atc "show server_version"`, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    pg = 'n/a';
  }
  return `nproc ${nproc}, ${model}, ${mem} RAM, Node ${process.version}, PostgreSQL ${pg}, PGlite (embedded, in-memory), pinning ${canPin() ? 'taskset: API + raw baseline server on core 0, load generators + simulator on core 1' : 'unavailable (not pinned)'}`;
}

async function main(): Promise<void> {
  const fromJson = opt('from-json');
  if (fromJson) {
    // Re-render RESULTS.md from a saved run.
    const saved = JSON.parse(readFileSync(fromJson, 'utf8')) as {
      started: string;
      quick: boolean;
      machine: string;
      results: Result[];
    };
    const dbs = [...new Set(saved.results.map((r) => r.db))];
    return render(saved.results, new Date(saved.started), saved.machine, saved.quick, dbs);
  }
  const started = new Date();
  const host = machine();
  console.log(`# clipwire bench ${QUICK ? '--quick ' : ''}${started.toISOString()} — ${host}`);
  const all: Result[] = [];
  for (const db of DBS) all.push(...(await runDb(db)));
  const minutes = (Date.now() - started.getTime()) / 60_000;
  console.log(
    `# done in ${minutes.toFixed(1)} min: ${all.filter(passes).length} PASS, ${all.filter((r) => !passes(r)).length} FAIL`,
  );
  // A partial run (--only) prints its lines and writes nothing: it never replaces a complete run's results.
  if (ONLY) return;
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  writeFileSync(
    join(benchDir, 'results', `${stamp}${QUICK ? '-quick' : ''}.json`),
    JSON.stringify({ started, quick: QUICK, machine: host, results: all }, null, 2),
  );
  render(all, started, host, QUICK, DBS);
}

function render(all: Result[], started: Date, host: string, QUICK: boolean, DBS: string[]): void {
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  // One section per database, from its latest run; RESULTS.md (full runs) or RESULTS-quick.md (quick
  // runs, so that a quick run never replaces the full run's table) is rebuilt from the sections.
  const kind = QUICK ? '-quick' : '';
  for (const db of DBS) {
    const rows = all.filter((r) => r.db === db);
    const section =
      `## ${db} — ${QUICK ? '**quick** run (`pnpm bench --quick`' : 'full run (`pnpm bench`'}${DBS.length === 1 ? ` --db=${db}` : ''}), ${started.toISOString()}\n\n` +
      `Machine: ${host}.\n\n` +
      `| | measured | baseline (same run) | ratio | target | verdict | notes |\n|---|---|---|---|---|---|---|\n` +
      rows
        .map((r) => {
          const subs = subsOf(r);
          const br = (f: (s: Sub) => string) => subs.map((s) => `<br>${f(s)}`).join('');
          const m = `${r.metric}=${fmt(r.value)}${br((s) => `${s.metric}=${fmt(s.value)}`)}`;
          const b = `${fmt(r.baseline)}${br((s) => (s.baseline !== undefined ? fmt(s.baseline) : '—'))}`;
          const ra = `${fmt(r.ratio)}${br((s) => (s.ratio !== undefined ? fmt(s.ratio) : '—'))}`;
          const t = `${r.target}${br((s) => s.target ?? '(info)')}`;
          return `| ${r.id} | ${m} | ${b} | ${ra} | ${t} | ${passes(r) ? 'PASS' : '**FAIL**'} | ${r.notes.replace(/\|/g, '\\|')} |`;
        })
        .join('\n') +
      `\n\nPrinted lines:\n\n\`\`\`\n${rows.map(line).join('\n')}\n\`\`\`\n`;
    writeFileSync(join(benchDir, 'results', `latest-${db}${kind}.md`), section);
  }
  const sections = ['pglite', 'postgres'].map((db) => {
    try {
      return readFileSync(join(benchDir, 'results', `latest-${db}${kind}.md`), 'utf8');
    } catch {
      return `## ${db}\n\nNot run yet.\n`;
    }
  });
  writeFileSync(
    join(benchDir, `RESULTS${kind}.md`),
    `# Clipwire benchmark results\n\nGenerated by \`pnpm bench\` (see [README.md](README.md)): the latest run on each database. ` +
      `Ratios compare the product with a baseline measured in the same run on the same machine; absolute numbers vary with the machine and whatever else it runs.\n\n` +
      sections.join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
