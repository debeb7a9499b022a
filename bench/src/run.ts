/**
 * `pnpm bench [--quick] [--db=pglite|postgres|both] [--only=S1,S3] [--no-profile] [--soak-seconds=N]`
 *
 * Starts the API under test (server.ts, core 0), the bare baseline server (raw-server.ts, core 0),
 * the provider simulator and the load generators (sim.ts, load/http.ts, load/ws.ts, core 1), then
 * runs S1…S6, each measuring its own baseline in the same run, and prints one line per scenario:
 *   S<n> <metric>=<value> baseline=<value> ratio=<r> target=<t> PASS|FAIL [notes]
 * A FAIL re-runs the API phase briefly under the CPU profiler (bench/profiles/).
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { canPin, spawnPeer, type Peer } from './lib/ipc.js';
import { klingCallbackBody, seededId, seededToken, sleep, summarize, taskGlobalId } from './lib/common.js';

const benchDir = join(import.meta.dirname, '..');
const argv = process.argv.slice(2).filter((a) => a !== '--');
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=').slice(1).join('=');
const QUICK = flag('quick');
const PROFILE = !flag('no-profile');
const PG_URL = opt('pg-url') ?? process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DBS = (opt('db') ?? (QUICK ? 'pglite' : 'both')) === 'both' ? ['pglite', 'postgres'] : [opt('db') ?? 'pglite'];
const ONLY = opt('only')?.toUpperCase().split(',');
const RUN = randomBytes(3).toString('hex');

const D = {
  s1Seconds: QUICK ? 8 : 20,
  s1Conns: 32,
  s2Rounds: { 100: QUICK ? 1 : 2, 1000: QUICK ? 1 : 3 } as Record<number, number>,
  s3Subs: 5000,
  s3Bursts: QUICK ? 2 : 5,
  s3Events: QUICK ? 10 : 20,
  s4Seconds: QUICK ? 8 : 20,
  s4Conns: 16,
  s5Ms: QUICK ? 5000 : 15000,
  s5Conns: 16,
  s6Seconds: Number(opt('soak-seconds') ?? (QUICK ? 60 : 600)),
  s6IdleSeconds: QUICK ? 10 : 30,
  profileSeconds: QUICK ? 5 : 10,
};

interface Result {
  id: string;
  db: string;
  metric: string;
  value: number;
  baseline: number;
  ratio: number;
  target: string;
  pass: boolean;
  /** A second measured ratio on the same line (S5, S6). */
  second?: { metric: string; value: number; baseline?: number; ratio?: number; target: string; pass: boolean };
  notes: string;
}

const fmt = (n: number) => (!Number.isFinite(n) ? String(n) : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
function line(r: Result): string {
  const first = `${r.id} ${r.metric}=${fmt(r.value)} baseline=${fmt(r.baseline)} ratio=${fmt(r.ratio)} target=${r.target}`;
  const s = r.second;
  const second = s
    ? ` (${r.pass ? 'ok' : 'missed'}) ; ${s.metric}=${fmt(s.value)}${s.baseline !== undefined ? ` baseline=${fmt(s.baseline)}` : ''}${s.ratio !== undefined ? ` ratio=${fmt(s.ratio)}` : ''} target=${s.target} (${s.pass ? 'ok' : 'missed'}) ;`
    : '';
  const pass = r.pass && (s?.pass ?? true);
  return `${first}${second} ${pass ? 'PASS' : 'FAIL'} [${r.db}; ${r.notes}]`;
}

interface Ctx {
  db: string;
  api: string;
  raw: string;
  server: Peer;
  sim: Peer;
  http: Peer;
  ws: Peer;
  s5?: { tenantId: string; apiKey: string; bodies: string[] };
}

type Callback = { taskId: string; path: string; body: string };

/** SUBMITTED tasks in the database (with callback tokens) and their twins at the simulator, 'processing'. */
/**
 * With `twins: false` no simulator task backs them: signed callbacks are applied from their body and
 * nothing reads Kling back (S6 needs ~84,000 of them, which the simulator takes over ten minutes to create).
 */
async function callbackTasks(ctx: Ctx, tenantId: string, prefix: string, n: number, { twins = true } = {}): Promise<Callback[]> {
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
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: { callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number }[] };
  const total = p.nodes.reduce((s, x) => s + (x.hitCount ?? 0), 0) || 1;
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  for (const x of p.nodes) {
    const { functionName, url, lineNumber } = x.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/.*\/work\/main\//, '');
    const key = `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + x.hitCount);
    const pkg = url.startsWith('wasm://') ? '@electric-sql/pglite (wasm)' : /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.includes('/work/main/') ? url.replace(/.*\/work\/main\/((?:apps|packages|bench)\/[^/]+).*/, '$1') : url ? 'node:internal' : functionName);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + x.hitCount);
  }
  const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
  const fns = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${pct(v)}  ${k}`);
  const pkgs = [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${pct(v)}  ${k}`);
  return `self time by function:\n${fns.join('\n')}\nself time by package:\n${pkgs.join('\n')}\n`;
}

// ---------------------------------------------------------------- S1 callback ingestion
async function s1(ctx: Ctx): Promise<Result> {
  const { tenantId } = await ctx.server.call('newTenant', { name: `s1-${RUN}` });
  // Fresh callbacks on hand, beyond what a machine accepts (a fast one moved 1,200 tasks/s); should
  // they run out, the run is mostly replays, and the line says so and fails.
  const need = D.s1Seconds * 4000;
  const rawNeed = D.s1Seconds * 4000;
  const rawPrefix = `s1r${RUN}-`;
  await ctx.server.call('seedTasks', { tenantId, prefix: rawPrefix, from: 0, to: rawNeed - 1, status: 'SUBMITTED', tokens: false });
  const rawIds = Array.from({ length: rawNeed }, (_, i) => seededId(rawPrefix, i));
  const raw = await ctx.server.call('rawTransitions', { tenantId, ids: rawIds, replay: 0.3, concurrency: D.s1Conns, durationMs: D.s1Seconds * 1000 });

  const cbs = await callbackTasks(ctx, tenantId, `s1a${RUN}-`, need);
  const before = await ctx.server.call('counts', { tenantId });
  const api = await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s1Conns,
    durationS: D.s1Seconds,
    spec: { kind: 'callbacks', fresh: cbs.map(({ path, body }) => ({ path, body })), replay: 0.3 },
  });
  const dr = await drain(ctx);
  const after = await ctx.server.call('counts', { tenantId });
  const moved = (after.tasks.PROCESSING ?? 0) - (before.tasks.PROCESSING ?? 0);
  const ratio = api.okPerSec / raw.opsPerSec;
  const ranOut = api.fresh >= need;
  const rawRanOut = raw.ops - raw.moved < 0 || raw.moved >= rawNeed;
  // Every answered fresh callback moved its task; one cut off by the end of the run may have too.
  const pass = ratio >= 0.6 && !ranOut && !rawRanOut && api.bad === 0 && moved >= api.freshAnswered && moved <= api.fresh;
  if (!pass && PROFILE) {
    const more = await callbackTasks(ctx, tenantId, `s1p${RUN}-`, D.profileSeconds * 600);
    await profiled(ctx, 'S1', async () => {
      await ctx.http.call('cannon', { url: ctx.api, connections: D.s1Conns, durationS: D.profileSeconds, spec: { kind: 'callbacks', fresh: more.map(({ path, body }) => ({ path, body })), replay: 0.3 } });
      await drain(ctx);
    });
  }
  return {
    id: 'S1',
    db: ctx.db,
    metric: 'accepted_callbacks_per_s',
    value: api.okPerSec,
    baseline: raw.opsPerSec,
    ratio,
    target: '≥0.6',
    pass,
    notes:
      `${D.s1Conns} conns ${D.s1Seconds}s; ${api.fresh} fresh + ${api.replays} replays${ranOut ? ' (fresh callbacks ran out!)' : ''}${rawRanOut ? ' (baseline ran out of rows!)' : ''}; non-2xx ${api.bad}${api.badSample ? ` (${api.badSample})` : ''}; ` +
      `backlog drained in ${(dr.ms / 1000).toFixed(1)}s (${dr.left} jobs left), ${moved} tasks moved for ${api.freshAnswered} fresh callbacks answered (${api.fresh} sent), end-to-end ${fmt(moved / (api.seconds + dr.ms / 1000))} transitions/s; ` +
      `baseline = transitionTask's statement (UPDATE…WHERE status IN, feed lock, event, webhook job) on the raw driver, same concurrency and replay share (${raw.moved} moved); accepted p99 ${api.latency.p99} ms`,
  };
}

// ---------------------------------------------------------------- S2 callback → subscriber latency
const TASK_UPDATED = 'subscription ($id: ID!) { taskUpdated(id: $id) { id status } }';

async function s2(ctx: Ctx): Promise<Result> {
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s2-${RUN}` });
  const per: Record<number, { api: number[]; raw: number[]; upd: number; lost: number; dup: number; rawLost: number; sendRate: number }> = {};
  let round = 0;
  /** One round of 1000 callbacks at `rate`; with `profileAs`, only the sending and delivery run under the profiler (not the seeding and subscribing). */
  const apiRound = async (rate: number, profileAs?: string) => {
    const prefix = `s2a${RUN}-${round++}-`;
    const cbs = await callbackTasks(ctx, tenantId, prefix, 1000);
    const keys = cbs.map((c) => taskGlobalId(c.taskId));
    await ctx.ws.call('connect', { url: ctx.api, mode: 'gql', keys, apiKey });
    const sub = await ctx.ws.call('subscribe', { query: TASK_UPDATED, perKeyVariable: 'id', waitFirstMs: 30_000 });
    if (!sub.ready) throw new Error(`S2: ${sub.notReady} subscriptions never sent their first state (errors ${sub.errors})`);
    const posts = cbs.map((c, i) => ({ key: keys[i]!, url: ctx.api + c.path, body: c.body })).sort(() => Math.random() - 0.5);
    const send = () => ctx.ws.call('openLoop', { posts, rate, settleMs: 20_000 });
    const r = profileAs ? await profiled(ctx, profileAs, send) : await send();
    await ctx.ws.call('closeAll');
    await drain(ctx);
    return r;
  };
  for (const rate of [100, 1000]) {
    const rounds = D.s2Rounds[rate]!;
    const acc = (per[rate] = { api: [] as number[], raw: [] as number[], upd: 0, lost: 0, dup: 0, rawLost: 0, sendRate: 0 });
    // Baseline 1: bare POST → ws push, same sockets, same open-loop sender.
    for (let k = 0; k < rounds; k++) {
      const keys = Array.from({ length: 1000 }, (_, i) => `k${k}-${i}`);
      await ctx.ws.call('connect', { url: ctx.raw, mode: 'raw', keys });
      const r = await ctx.ws.call('openLoop', { posts: keys.map((key) => ({ key, url: `${ctx.raw}/push/${key}`, body: '{}' })), rate, settleMs: 10_000 });
      acc.raw.push(...r.lat);
      acc.rawLost += r.lost + r.dup;
      await ctx.ws.call('closeAll');
    }
    // Baseline 2: one transition UPDATE (+event) at the same rate on the raw driver.
    const updPrefix = `s2u${RUN}-${rate}-`;
    await ctx.server.call('seedTasks', { tenantId, prefix: updPrefix, from: 0, to: 999, status: 'SUBMITTED', tokens: false });
    const upd = await ctx.server.call('rawUpdateLatency', { tenantId, ids: Array.from({ length: 1000 }, (_, i) => seededId(updPrefix, i)), rate });
    acc.upd = upd.p99;
    for (let k = 0; k < rounds; k++) {
      const r = await apiRound(rate);
      acc.api.push(...r.lat);
      acc.lost += r.lost;
      acc.dup += r.dup;
      acc.sendRate = r.sendRate;
    }
  }
  const view = (rate: number) => {
    const a = per[rate]!;
    const api = summarize(a.api);
    const raw = summarize(a.raw);
    const base = raw.p99 + a.upd;
    return { rate, api, raw, base, ratio: api.p99 / base, a };
  };
  const v = [view(100), view(1000)];
  const worst = v[0]!.ratio > v[1]!.ratio ? v[0]! : v[1]!;
  const lost = v.reduce((s, x) => s + x.a.lost, 0);
  const dup = v.reduce((s, x) => s + x.a.dup, 0);
  const pass = v.every((x) => x.ratio <= 2) && lost === 0 && dup === 0;
  if (!pass && PROFILE) await apiRound(1000, 'S2');
  return {
    id: 'S2',
    db: ctx.db,
    metric: `p99_ms@${worst.rate}/s`,
    value: worst.api.p99,
    baseline: worst.base,
    ratio: worst.ratio,
    target: '≤2',
    pass,
    notes:
      v
        .map((x) => `${x.rate}/s (sent at ${fmt(x.a.sendRate)}/s): p50 ${fmt(x.api.p50)} p99 ${fmt(x.api.p99)} ms over ${x.api.n} pushes vs raw push p99 ${fmt(x.raw.p99)} + UPDATE p99 ${fmt(x.a.upd)} = ${fmt(x.base)} → ${fmt(x.ratio)}`)
        .join('; ') + `; lost ${lost}, duplicated ${dup} (raw lost/dup ${v[0]!.a.rawLost + v[1]!.a.rawLost}); 1000 subscribers each on its own task per round`,
  };
}

// ---------------------------------------------------------------- S3 tenant feed fan-out
const TASK_EVENTS = 'subscription { taskEvents { cursor status message occurredAt } }';

async function s3(ctx: Ctx): Promise<Result> {
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s3-${RUN}` });
  const B = D.s3Events;
  const N = D.s3Subs;
  const keys = Array.from({ length: N }, (_, i) => `s${i}`);
  // Baseline: a bare ws server broadcasting a pre-serialized payload to the same number of sockets.
  const rawConn = await ctx.ws.call('connect', { url: ctx.raw, mode: 'raw', keys });
  await ctx.ws.call('burst', { posts: [{ url: `${ctx.raw}/broadcast?n=1`, body: '' }], expect: 1, timeoutMs: 30_000 });
  let rawMs = 0;
  let rawDelivered = 0;
  for (let b = 0; b < D.s3Bursts; b++) {
    const r = await ctx.ws.call('burst', { posts: [{ url: `${ctx.raw}/broadcast?n=${B}`, body: '' }], expect: B, timeoutMs: 60_000 });
    rawMs += r.ms;
    rawDelivered += r.delivered;
  }
  await ctx.ws.call('closeAll');
  const rawRate = rawDelivered / (rawMs / 1000);

  const cbs = await callbackTasks(ctx, tenantId, `s3a${RUN}-`, 1 + B * (D.s3Bursts + 1));
  const conn = await ctx.ws.call('connect', { url: ctx.api, mode: 'gql', keys, apiKey });
  await ctx.ws.call('subscribe', { query: TASK_EVENTS });
  let used = 0;
  const take = (n: number) => cbs.slice(used, (used += n)).map((c) => ({ url: ctx.api + c.path, body: c.body }));
  // Warm-up: one event seen by every socket proves every subscription is live.
  const warm = await ctx.ws.call('burst', { posts: take(1), expect: 1, timeoutMs: 120_000 });
  if (!warm.complete) throw new Error(`S3: warm-up event reached ${warm.delivered}/${warm.expected} subscribers`);
  let apiMs = 0;
  let delivered = 0;
  let expected = 0;
  let dup = 0;
  let incomplete = 0;
  for (let b = 0; b < D.s3Bursts; b++) {
    const r = await ctx.ws.call('burst', { posts: take(B), expect: B, timeoutMs: QUICK ? 60_000 : 120_000 });
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
  if (!pass && PROFILE) await profiled(ctx, 'S3', () => ctx.ws.call('burst', { posts: take(B), expect: B, timeoutMs: 120_000 }));
  await ctx.ws.call('closeAll');
  return {
    id: 'S3',
    db: ctx.db,
    metric: 'delivered_events_per_s',
    value: apiRate,
    baseline: rawRate,
    ratio,
    target: '≥0.5',
    pass,
    notes:
      `${N} taskEvents subscribers on one tenant, ${D.s3Bursts} bursts of ${B} callbacks→events; delivered ${delivered}/${expected}, duplicated ${dup}, ${incomplete} bursts timed out; ` +
      `API ${fmt(apiMs / D.s3Bursts)} ms/burst (incl. callback→event) vs raw broadcast ${fmt(rawMs / D.s3Bursts)} ms/burst; connect ${fmt(conn.ms / 1000)}s (raw ${fmt(rawConn.ms / 1000)}s)`,
  };
}

// ---------------------------------------------------------------- S4 createAvatarVideo
const CREATE_AVATAR = `mutation Create($input: CreateAvatarVideoInput!) {
  createAvatarVideo(input: $input) {
    __typename
    ... on Task { id status externalTaskId }
    ... on ValidationError { message issues { path message } }
    ... on DuplicateExternalTaskId { message externalTaskId }
  }
}`;

async function s4(ctx: Ctx): Promise<Result> {
  const { apiKey } = await ctx.server.call('newTenant', { name: `s4-${RUN}` });
  const fixtures = join(benchDir, '..', 'packages', 'providers', 'media', 'fixtures');
  const input = {
    image: { base64: readFileSync(join(fixtures, 'portrait-512x640.png')).toString('base64') },
    audio: { base64: readFileSync(join(fixtures, 'speech-3s.mp3')).toString('base64') },
  };
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  const typename = await ctx.http.call('cannon', {
    url: ctx.api,
    connections: D.s4Conns,
    durationS: D.s4Seconds,
    spec: { kind: 'fixed', method: 'POST', path: '/graphql', headers, body: JSON.stringify({ query: '{ __typename }' }), expect: '"__typename":"Query"' },
  });
  const mutation = { kind: 'fixed', method: 'POST', path: '/graphql', headers, body: JSON.stringify({ query: CREATE_AVATAR, variables: { input } }), expect: '"__typename":"Task"' };
  const api = await ctx.http.call('cannon', { url: ctx.api, connections: D.s4Conns, durationS: D.s4Seconds, spec: mutation });
  const dr = await drain(ctx);
  const ratio = api.okPerSec / typename.okPerSec;
  const pass = ratio >= 0.5 && api.bad === 0;
  if (!pass && PROFILE) {
    await profiled(ctx, 'S4', () => ctx.http.call('cannon', { url: ctx.api, connections: D.s4Conns, durationS: D.profileSeconds, spec: mutation }));
    await drain(ctx);
  }
  return {
    id: 'S4',
    db: ctx.db,
    metric: 'mutations_per_s',
    value: api.okPerSec,
    baseline: typename.okPerSec,
    ratio,
    target: '≥0.5',
    pass,
    notes:
      `${D.s4Conns} conns ${D.s4Seconds}s, inline base64 portrait+speech (${fmt(mutation.body.length / 1024)} KiB body); errors ${api.bad}${api.badSample ? ` (${api.badSample})` : ''}; ` +
      `p99 ${api.latency.p99} ms vs ${typename.latency.p99} ms; submit backlog (${api.ok} tasks → simulator) drained in ${(dr.ms / 1000).toFixed(1)}s`,
  };
}

// ---------------------------------------------------------------- S5 pagination
const TASKS_PAGE = 'query ($after: String) { tasks(first: 20, after: $after) { edges { cursor node { id status createdAt } } pageInfo { hasNextPage endCursor } } }';

async function s5(ctx: Ctx): Promise<Result> {
  const rows = ctx.db === 'postgres' ? 1_000_000 : 200_000;
  const { tenantId, apiKey } = await ctx.server.call('newTenant', { name: `s5-${RUN}` });
  const seeded = await ctx.server.call('seedTasks', { tenantId, prefix: `s5${RUN}-`, from: 1, to: rows, status: 'SUCCEEDED', tokens: false, chunk: 100_000 }, 1_800_000);
  const cur = await ctx.server.call('cursorAt', { tenantId, offset: 20 * 9999 - 1 });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  const p1 = JSON.stringify({ query: TASKS_PAGE, variables: { after: null } });
  const p10k = JSON.stringify({ query: TASKS_PAGE, variables: { after: cur.cursor } });
  ctx.s5 = { tenantId, apiKey, bodies: [p1, p10k] };
  const lat = (body: string) => ctx.http.call('latency', { url: `${ctx.api}/graphql`, headers, body, concurrency: 4, durationMs: D.s5Ms, expect: '"edges"' });
  await lat(p1); // warm-up
  const l1 = await lat(p1);
  const l10k = await lat(p10k);
  const api = await ctx.http.call('cannon', { url: ctx.api, connections: D.s5Conns, durationS: D.s5Ms / 1000, spec: { kind: 'fixed', method: 'POST', path: '/graphql', headers, body: p10k, expect: '"edges":[{' } });
  // graphql-relay asks listTasks for first+1 rows to know hasNextPage: the raw query fetches 21 too.
  const raw = await ctx.server.call('rawKeyset', { tenantId, cursor: { id: cur.id, createdAt: cur.createdAt }, concurrency: D.s5Conns, durationMs: D.s5Ms, limit: 21 });
  const r1 = l10k.latency.p99 / l1.latency.p99;
  const r2 = api.okPerSec / raw.opsPerSec;
  const pass1 = r1 <= 1.2 && l1.bad === 0 && l10k.bad === 0;
  const pass2 = r2 >= 0.4 && api.bad === 0;
  if (!(pass1 && pass2) && PROFILE) {
    await profiled(ctx, 'S5', () => ctx.http.call('cannon', { url: ctx.api, connections: D.s5Conns, durationS: D.profileSeconds, spec: { kind: 'fixed', method: 'POST', path: '/graphql', headers, body: p10k } }));
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
    second: { metric: 'page10000_req_per_s', value: api.okPerSec, baseline: raw.opsPerSec, ratio: r2, target: '≥0.4', pass: pass2 },
    notes:
      `${rows} rows seeded by generate_series in ${fmt(seeded.ms / 1000)}s; first: 20; p99 over ${l1.latency.n}/${l10k.latency.n} requests at 4 conns (p50 ${fmt(l1.latency.p50)}/${fmt(l10k.latency.p50)} ms); ` +
      `throughput ${D.s5Conns} conns vs the same keyset SELECT … LIMIT 21 on the raw driver (p99 ${fmt(raw.latency.p99)} ms); errors ${api.bad + l1.bad + l10k.bad}${api.badSample || l1.badSample ? ` (${api.badSample || l1.badSample})` : ''}`,
  };
}

// ---------------------------------------------------------------- S6 soak
async function s6(ctx: Ctx): Promise<Result> {
  const soak = D.s6Seconds;
  const idle = await ctx.server.call('newTenant', { name: `s6i-${RUN}` });
  const { tenantId } = await ctx.server.call('newTenant', { name: `s6-${RUN}` });
  if (!ctx.s5) {
    // S5 did not run: a smaller pagination tenant of its own.
    const t = await ctx.server.call('newTenant', { name: `s6p-${RUN}` });
    await ctx.server.call('seedTasks', { tenantId: t.tenantId, prefix: `s6p${RUN}-`, from: 1, to: 50_000, status: 'SUCCEEDED', tokens: false });
    const cur = await ctx.server.call('cursorAt', { tenantId: t.tenantId, offset: 20 * 1999 - 1 });
    ctx.s5 = { ...t, bodies: [JSON.stringify({ query: TASKS_PAGE, variables: { after: null } }), JSON.stringify({ query: TASKS_PAGE, variables: { after: cur.cursor } })] };
  }
  const cbs = await callbackTasks(ctx, tenantId, `s6a${RUN}-`, Math.ceil(200 * soak * 0.75), { twins: false });
  const keys = Array.from({ length: 5000 }, (_, i) => `i${i}`);
  await ctx.ws.call('connect', { url: ctx.api, mode: 'gql', keys, apiKey: idle.apiKey });
  await ctx.ws.call('subscribe', { query: TASK_EVENTS });
  await sleep(2000);
  await ctx.server.call('stats', { reset: true });
  await sleep(D.s6IdleSeconds * 1000);
  const idleStats = await ctx.server.call('stats', { reset: true });
  // RSS every 5 s as it is, and every 15 s after a full GC: between major collections the heap
  // fills with garbage (a sawtooth of ~300 MB at this load), so only post-GC samples show growth.
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
  const [cb, pages] = await Promise.all([
    ctx.http.call('cannon', { url: ctx.api, connections: 8, durationS: soak, overallRate: 200, spec: { kind: 'callbacks', fresh: cbs.map(({ path, body }) => ({ path, body })), replay: 0.3 } }, (soak + 120) * 1000),
    ctx.http.call('cannon', { url: ctx.api, connections: 8, durationS: soak, overallRate: 200, spec: { kind: 'pages', headers, bodies: s5ctx.bodies, expect: '"edges"' } }, (soak + 120) * 1000),
  ]);
  const soakStats = await ctx.server.call('stats', {});
  sampling = false;
  await sampler;
  const subs = await ctx.ws.call('counts');
  await ctx.ws.call('closeAll');
  const dr = await drain(ctx);
  // Growth (least-squares slope, MB/min) after the first fifth of the soak.
  const after = <T extends { t: number }>(list: T[]) => list.filter((s) => s.t >= soak / 60 / 5);
  const slopeOf = (points: { t: number; v: number }[]) => {
    const mx = points.reduce((a, s) => a + s.t, 0) / points.length;
    const my = points.reduce((a, s) => a + s.v, 0) / points.length;
    return points.reduce((a, s) => a + (s.t - mx) * (s.v - my), 0) / (points.reduce((a, s) => a + (s.t - mx) ** 2, 0) || 1);
  };
  const tail = after(retained);
  const slope = slopeOf(tail.map((s) => ({ t: s.t, v: s.rss })));
  const heapSlope = slopeOf(tail.map((s) => ({ t: s.t, v: s.heap })));
  const rawSlope = slopeOf(after(samples).map((s) => ({ t: s.t, v: s.rss })));
  const ratio = soakStats.eldP99Ms / idleStats.eldP99Ms;
  const pass1 = ratio <= 2;
  const pass2 = slope < 1;
  return {
    id: 'S6',
    db: ctx.db,
    metric: 'eventloop_p99_ms',
    value: soakStats.eldP99Ms,
    baseline: idleStats.eldP99Ms,
    ratio,
    target: '≤2',
    pass: pass1,
    second: { metric: 'rss_growth_mb_per_min', value: slope, target: '<1', pass: pass2 },
    notes:
      `${QUICK ? 'QUICK: ' : ''}soak ${soak}s (${fmt(soak / 60)} min) with 5000 idle taskEvents subscribers (${subs.open} still open, ${subs.errors} errors) + callbacks ${fmt(cb.okPerSec)}/s (${cb.bad} non-2xx) + tasks pages ${fmt(pages.okPerSec)}/s (${pages.bad} errors); ` +
      `idle baseline ${D.s6IdleSeconds}s with the subscribers connected; monitorEventLoopDelay resolution 10 ms; RSS after a full GC (every 15 s) ${fmt(retained[0]?.rss ?? NaN)}→${fmt(retained.at(-1)?.rss ?? NaN)} MB, slope over the last 80% (${tail.length} samples), heap after GC ${fmt(retained[0]?.heap ?? NaN)}→${fmt(retained.at(-1)?.heap ?? NaN)} MB (${fmt(heapSlope)} MB/min); RSS as sampled (no GC, every 5 s) ${fmt(Math.min(...samples.map((s) => s.rss)))}–${fmt(Math.max(...samples.map((s) => s.rss)))} MB, slope ${fmt(rawSlope)} MB/min; backlog drained in ${fmt(dr.ms / 1000)}s`,
  };
}

// S4 first: it measures creates on a fresh database, before the other scenarios' thousands of
// seeded running Kling tasks fill the provider's slots.
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
      env: { BENCH_SIM_URL: simInfo.url, BENCH_DATABASE_URL: dbUrl ?? '', NODE_ENV: 'production' },
      nodeArgs: ['--max-old-space-size=4096', '--expose-gc'],
    });
    const raw = spawnPeer(src('raw-server.ts'), { core: 0, name: 'raw-server' });
    const http = spawnPeer(src('load/http.ts'), { core: 1, name: 'http-load' });
    const ws = spawnPeer(src('load/ws.ts'), { core: 1, name: 'ws-load' });
    peers.push(server, raw, http, ws);
    await Promise.all([server.ready, raw.ready, http.ready, ws.ready]);
    const info = await server.call('info');
    const rawInfo = await raw.call('info');
    console.log(`# ${db}: API ${info.url} (pid ${info.pid}, ${info.driver}${info.rls ? ', row-level security' : ''}), simulator ${simInfo.url}, raw baseline ${rawInfo.url}`);
    const ctx: Ctx = { db, api: info.url, raw: rawInfo.url, server, sim, http, ws };
    for (const [id, fn] of SCENARIOS) {
      if (ONLY && !ONLY.includes(id)) continue;
      const t0 = performance.now();
      try {
        const r = await fn(ctx);
        results.push(r);
        console.log(`${line(r)}  (${fmt((performance.now() - t0) / 1000)}s)`);
      } catch (error) {
        const r: Result = { id, db, metric: 'error', value: NaN, baseline: NaN, ratio: NaN, target: '-', pass: false, notes: `ERROR ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
        results.push(r);
        console.log(line(r));
        await ctx.ws.call('closeAll').catch(() => {});
      }
    }
  } finally {
    for (const p of peers.reverse()) await p.stop().catch(() => {});
    await dropDb?.().catch((e: unknown) => console.error(`could not drop the scratch database: ${e}`));
  }
  return results;
}

function machine(): string {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const nproc = execSync('nproc').toString().trim();
  const mem = `${Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1048576)} GiB`;
  let pg = '';
  try {
    pg = execSync(`psql "${PG_URL}" -Atc "show server_version"`, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    pg = 'n/a';
  }
  return `nproc ${nproc}, ${model}, ${mem} RAM, Node ${process.version}, PostgreSQL ${pg}, PGlite (embedded, in-memory), pinning ${canPin() ? 'taskset: API + raw baseline server on core 0, load generators + simulator on core 1' : 'unavailable (not pinned)'}`;
}

async function main(): Promise<void> {
  const fromJson = opt('from-json');
  if (fromJson) {
    // Re-render RESULTS.md from a saved run.
    const saved = JSON.parse(readFileSync(fromJson, 'utf8')) as { started: string; quick: boolean; machine: string; results: Result[] };
    const dbs = [...new Set(saved.results.map((r) => r.db))];
    return render(saved.results, new Date(saved.started), saved.machine, saved.quick, dbs);
  }
  const started = new Date();
  const host = machine();
  console.log(`# clipwire bench ${QUICK ? '--quick ' : ''}${started.toISOString()} — ${host}`);
  const all: Result[] = [];
  for (const db of DBS) all.push(...(await runDb(db)));
  const minutes = (Date.now() - started.getTime()) / 60_000;
  console.log(`# done in ${minutes.toFixed(1)} min: ${all.filter((r) => r.pass && (r.second?.pass ?? true)).length} PASS, ${all.filter((r) => !(r.pass && (r.second?.pass ?? true))).length} FAIL`);
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(benchDir, 'results', `${stamp}${QUICK ? '-quick' : ''}.json`), JSON.stringify({ started, quick: QUICK, machine: host, results: all }, null, 2));
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
          const s = r.second;
          const m = `${r.metric}=${fmt(r.value)}${s ? `<br>${s.metric}=${fmt(s.value)}` : ''}`;
          const b = `${fmt(r.baseline)}${s ? `<br>${s.baseline !== undefined ? fmt(s.baseline) : '—'}` : ''}`;
          const ra = `${fmt(r.ratio)}${s ? `<br>${s.ratio !== undefined ? fmt(s.ratio) : '—'}` : ''}`;
          const t = `${r.target}${s ? `<br>${s.target}` : ''}`;
          return `| ${r.id} | ${m} | ${b} | ${ra} | ${t} | ${r.pass && (s?.pass ?? true) ? 'PASS' : '**FAIL**'} | ${r.notes.replace(/\|/g, '\\|')} |`;
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
