/**
 * The server under test: the real product (buildApp) in its own process, plus the raw-driver
 * baselines, which run here too so that they get the same core and the same database handle
 * (embedded PGlite exists only inside this process). Controlled over IPC by run.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fillPlaceholders, sql } from '../../apps/api/node_modules/drizzle-orm/index.js';
import postgres from 'postgres';
import { createApiKey, createTenant } from '../../apps/api/src/auth/api-keys.js';
import { loadConfig } from '../../apps/api/src/config.js';
import { buildApp } from '../../apps/api/src/http/app.js';
import { transitionStatement } from '../../apps/api/src/tasks/repository.js';
import { serve } from './lib/ipc.js';
import { KLING_WEBHOOK_SECRET, summarize, sleep } from './lib/common.js';

const dbUrl = process.env.BENCH_DATABASE_URL || undefined;
const config = loadConfig({
  NODE_ENV: 'production',
  PORT: '0',
  HOST: '127.0.0.1',
  CLIPWIRE_DATA_DIR: 'memory://',
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  // The bench measures the engine, not the per-key rate limiter nor Kling's slot limit.
  API_RATE_LIMIT_PER_SECOND: '100000',
  API_RATE_LIMIT_BURST: '1000000',
  KLING_CONCURRENCY: '10000',
  KLING_WEBHOOK_SECRET,
  ...(dbUrl ? { DATABASE_URL: dbUrl } : {}),
});
if (!dbUrl) config.database = { kind: 'pglite', dataDir: 'memory://' };

const app = await buildApp({ config, sandboxUrl: process.env.BENCH_SIM_URL });
const url = await app.start();
const db = app.db.db as any;
const driver = app.db.driver;

/** Raw driver access for the baselines: the PGlite instance itself, or a postgres.js pool as large as the product's (10). */
const rawPg = dbUrl ? postgres(dbUrl, { max: 10, onnotice: () => {} }) : null;
const pglite = dbUrl ? null : (db.$client as { query: Function });

async function rawQuery(text: string, params: unknown[] = []): Promise<any[]> {
  if (rawPg) return (await rawPg.unsafe(text, params as any[])) as any[];
  return ((await pglite!.query(text, params)) as { rows: any[] }).rows;
}

const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
let profiler: Session | null = null;

/**
 * transitionTask's statement (repository.ts: the UPDATE, the tenant feed's lock, the event and the
 * webhook job, as one statement) for a Kling callback's SUBMITTED → PROCESSING, its SQL taken from the
 * product's own query builder and run on the raw driver with each task's id.
 */
const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';
const sample = transitionStatement(
  app.db.db,
  { taskId: SAMPLE_ID, to: 'PROCESSING', source: 'CALLBACK', message: 'KLING is generating', patch: { providerTaskId: null, providerUpdatedAt: new Date(), progress: null } },
  app.webhooks.changeJobs,
);
const transition = { sql: sample.query.getQuery().sql, params: fillPlaceholders(sample.query.getQuery().params, sample.values) };
const transitionIdParam = transition.params.indexOf(SAMPLE_ID);
if (transitionIdParam < 0) throw new Error('the transition statement has no task id parameter');

async function rawTransition(id: string): Promise<boolean> {
  const params = transition.params.map((p, i) => (i === transitionIdParam ? id : p));
  return (await rawQuery(transition.sql, params)).length > 0;
}

serve(
  {
    info: () => ({ url, driver, sandboxApiKey: app.sandboxApiKey, pid: process.pid, rls: app.db.rowLevelSecurity }),
    async newTenant({ name }: { name: string }) {
      const tenantId = await createTenant(app.db.db, name);
      const { key } = await createApiKey(app.db.db, tenantId, `${name} bench key`);
      return { tenantId, apiKey: key };
    },
    /**
     * generate_series straight into tasks: ids md5(prefix||i)::uuid, callback tokens prefix||'tok'||i
     * (padded, stored as sha256 hex) and created_at one millisecond apart, newest first.
     */
    async seedTasks(a: { tenantId: string; prefix: string; from: number; to: number; status: string; tokens: boolean; chunk?: number }) {
      const started = performance.now();
      const chunk = a.chunk ?? 50_000;
      const terminal = ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(a.status);
      for (let lo = a.from; lo <= a.to; lo += chunk) {
        const hi = Math.min(a.to, lo + chunk - 1);
        const token = `rpad('${a.prefix}tok' || i, 24, 'x')`;
        await db.execute(
          sql.raw(`insert into tasks (id, tenant_id, kind, provider, model, status, version, status_message, input, output,
              callback_token_hash, created_at, updated_at, submitted_at, completed_at, submit_attempts)
            select md5('${a.prefix}' || i)::uuid, '${a.tenantId}', 'AVATAR_VIDEO', 'KLING', 'kling-avatar-SANDBOX', '${a.status}', 2,
              'seeded', '{"seeded":true}'::jsonb, '{"videos":[],"audios":[]}'::jsonb,
              ${a.tokens ? `encode(sha256(convert_to(${token}, 'UTF8')), 'hex')` : 'null'},
              date_trunc('milliseconds', now()) - (i * interval '1 millisecond'), now(), now(), ${terminal ? 'now()' : 'null'}, 1
            from generate_series(${lo}, ${hi}) as i`),
        );
      }
      // Vacuumed as well as analyzed: a table that size in service is, and otherwise autovacuum (and
      // the first reads setting hint bits on a million fresh rows) runs during the measurement.
      await db.execute(sql.raw('vacuum (analyze) tasks'));
      return { ms: performance.now() - started };
    },
    async counts({ tenantId }: { tenantId?: string } = {}) {
      const jobs = await rawQuery(`select queue, count(*)::int as n from jobs group by queue`);
      const tasks = tenantId ? await rawQuery(`select status, count(*)::int as n from tasks where tenant_id = $1 group by status`, [tenantId]) : [];
      const events = tenantId ? await rawQuery(`select count(*)::int as n from task_events where tenant_id = $1`, [tenantId]) : [];
      return {
        jobs: Object.fromEntries(jobs.map((r) => [r.queue, r.n])),
        tasks: Object.fromEntries(tasks.map((r) => [r.status, r.n])),
        events: events[0]?.n ?? 0,
      };
    },
    /** Keyset cursor of the row at `offset` in the newest-first order (the `after` of the next page). */
    async cursorAt({ tenantId, offset }: { tenantId: string; offset: number }) {
      const [row] = await rawQuery(`select id, created_at from tasks where tenant_id = $1 order by created_at desc, id desc offset $2 limit 1`, [tenantId, offset]);
      const created = new Date(row.created_at);
      return { cursor: Buffer.from(`${created.getTime()}:${row.id}`).toString('base64url'), id: row.id, createdAt: created.toISOString() };
    },
    /**
     * S1 baseline: transitionTask's statements for fresh seeded rows, `replay` of the operations
     * repeating an id already moved (a no-op UPDATE), `concurrency` loops, bounded by count and time.
     */
    async rawTransitions(a: { tenantId: string; ids: string[]; replay: number; concurrency: number; durationMs: number }) {
      let next = 0;
      const done: string[] = [];
      let ops = 0;
      let moved = 0;
      const lat: number[] = [];
      const deadline = performance.now() + a.durationMs;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: a.concurrency }, async () => {
          while (performance.now() < deadline) {
            const replay = done.length > 0 && Math.random() < a.replay;
            let id: string;
            if (replay) id = done[Math.floor(Math.random() * done.length)]!;
            else if (next < a.ids.length) id = a.ids[next++]!;
            else break;
            const t0 = performance.now();
            if (await rawTransition(id)) moved++;
            lat.push(performance.now() - t0);
            if (!replay) done.push(id);
            ops++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      return { opsPerSec: ops / seconds, ops, moved, seconds, latency: summarize(lat) };
    },
    /** S2 baseline part: one transition UPDATE, open loop at `rate`/s, its latency. */
    async rawUpdateLatency(a: { tenantId: string; ids: string[]; rate: number }) {
      const lat: number[] = [];
      const start = performance.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < a.ids.length; i++) {
        const due = start + (i * 1000) / a.rate;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        const t0 = performance.now();
        inflight.push(
          rawTransition(a.ids[i]!).then(() => {
            lat.push(performance.now() - t0);
          }),
        );
      }
      await Promise.all(inflight);
      return summarize(lat);
    },
    /** S5 baseline: listTasks' keyset SELECT (the same row comparison) on the raw driver, closed loop at `concurrency`. */
    async rawKeyset(a: { tenantId: string; cursor: { id: string; createdAt: string } | null; concurrency: number; durationMs: number; limit: number }) {
      const q = a.cursor
        ? `select * from tasks where tenant_id = $1 and (created_at, id) < ($2::timestamptz, $3::uuid) order by created_at desc, id desc limit $4`
        : `select * from tasks where tenant_id = $1 order by created_at desc, id desc limit $2`;
      const params = a.cursor ? [a.tenantId, new Date(a.cursor.createdAt), a.cursor.id, a.limit] : [a.tenantId, a.limit];
      const loop = async (durationMs: number) => {
        let ops = 0;
        const lat: number[] = [];
        const started = performance.now();
        const deadline = started + durationMs;
        await Promise.all(
          Array.from({ length: a.concurrency }, async () => {
            while (performance.now() < deadline) {
              const t0 = performance.now();
              const rows = await rawQuery(q, params);
              // A full page (limit = first + 1, or first on the last page).
              if (rows.length < a.limit - 1) throw new Error(`keyset page had ${rows.length} rows`);
              lat.push(performance.now() - t0);
              ops++;
            }
          }),
        );
        return { opsPerSec: ops / ((performance.now() - started) / 1000), latency: summarize(lat) };
      };
      // Warmed up like the product's side (its connections opened, the statement prepared on each).
      await loop(Math.min(2000, a.durationMs / 5));
      return loop(a.durationMs);
    },
    /**
     * `gc`: a full collection first (the server runs with --expose-gc), so that RSS and heap show what
     * is retained, not garbage not yet collected. The event-loop delay monitor is paused across it: the
     * pause is the benchmark's doing, not the server's.
     */
    stats({ reset, gc }: { reset?: boolean; gc?: boolean } = {}) {
      if (gc) {
        eld.disable();
        (globalThis as { gc?: () => void }).gc?.();
        eld.enable();
      }
      const m = process.memoryUsage();
      const out = {
        rss: m.rss,
        heapUsed: m.heapUsed,
        eldP99Ms: eld.percentile(99) / 1e6,
        eldMeanMs: eld.mean / 1e6,
        eldMaxMs: eld.max / 1e6,
        cpu: process.cpuUsage(),
      };
      if (reset) eld.reset();
      return out;
    },
    async profileStart() {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
    },
    async profileStop({ file }: { file: string }) {
      if (!profiler) throw new Error('no profile running');
      const { profile } = (await profiler.post('Profiler.stop')) as { profile: unknown };
      profiler.disconnect();
      profiler = null;
      writeFileSync(file, JSON.stringify(profile));
      return { file };
    },
  },
  async () => {
    await app.stop().catch(() => {});
    await rawPg?.end({ timeout: 5 });
  },
);
process.send?.({ id: 0, result: 'ready' });
