/**
 * The server under test: the real product (buildApp) in its own process, plus the raw-driver
 * baselines, which run here too so that they get the same core and the same database handle
 * (embedded PGlite exists only inside this process). Controlled over IPC by run.ts.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fillPlaceholders, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createApiKey, createTenant } from '@clipwire/api/auth/api-keys';
import { loadConfig } from '@clipwire/api/config';
import { buildApp } from '@clipwire/api/http/app';
import { transitionStatement } from '@clipwire/api/tasks/transitions';
import { serve } from './lib/ipc.js';
import { KLING_WEBHOOK_SECRET, seededId, seededToken, summarize, sleep } from './lib/common.js';

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

/**
 * Raw driver access for the baselines: the PGlite instance itself, or a postgres.js pool as large as
 * the product's (10). On Postgres every baseline statement is a named prepared statement
 * (`unsafe(text, params, { prepare: true })`, prepared once per connection, as the product's are) and
 * is warmed on every connection before it is timed. PGlite's `query` has no statement cache (it parses
 * each time; the product's statements on PGlite do too).
 */
const rawPg = dbUrl ? postgres(dbUrl, { max: 10, onnotice: () => {} }) : null;
type RawPglite = {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
  transaction<T>(fn: (tx: RawPglite) => Promise<T>): Promise<T>;
};
/** S4's reader of pg_stat_database, on the admin database (Postgres only). */
let statsPg: ReturnType<typeof postgres> | null = null;
const pglite = dbUrl ? null : (db.$client as unknown as RawPglite);
/** Statements the bench itself ran on the bench database (each is one committed transaction): S4 subtracts them from xact_commit. */
let benchStatements = 0;

type Q = (text: string, params?: unknown[]) => Promise<any[]>;

const rawQuery: Q = async (text, params = []) => {
  benchStatements++;
  if (rawPg) return (await rawPg.unsafe(text, params as any[], { prepare: true })) as any[];
  return ((await pglite!.query(text, params)) as { rows: any[] }).rows;
};

/** One transaction on the raw driver; `q` runs prepared statements in it. */
async function rawTx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
  if (rawPg)
    return (await rawPg.begin((tx) =>
      fn(async (text, params = []) => (await tx.unsafe(text, params as any[], { prepare: true })) as any[]),
    )) as T;
  return (await pglite!.transaction((tx: RawPglite) =>
    fn(async (text, params = []) => ((await tx.query(text, params)) as { rows: any[] }).rows),
  )) as T;
}

/** Warm-up: `op` from `concurrency` loops for `ms` (every pool connection gets the statements prepared, the JIT warms up). */
async function warmUp(op: () => Promise<unknown>, concurrency: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  await Promise.all(
    Array.from({ length: Math.max(concurrency, 12) }, async () => {
      while (performance.now() < deadline) await op();
    }),
  );
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const eld = monitorEventLoopDelay({ resolution: 1 });
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
  {
    taskId: SAMPLE_ID,
    to: 'PROCESSING',
    source: 'CALLBACK',
    message: 'KLING is generating',
    patch: { providerTaskId: null, providerUpdatedAt: new Date(), progress: null },
  },
  app.webhooks.changeJobs,
);
const transition = {
  sql: sample.query.getQuery().sql,
  params: fillPlaceholders(sample.query.getQuery().params, sample.values),
};
const transitionIdParam = transition.params.indexOf(SAMPLE_ID);
if (transitionIdParam < 0) throw new Error('the transition statement has no task id parameter');

async function rawTransition(id: string): Promise<boolean> {
  const params = transition.params.map((p, i) => (i === transitionIdParam ? id : p));
  return (await rawQuery(transition.sql, params)).length > 0;
}

/** The product's callback lookup (findTaskByCallbackTokenHash): what a replayed callback costs it once its signature checks. */
const TOKEN_LOOKUP =
  'select id, tenant_id, provider, kind, status, provider_task_id from tasks where callback_token_hash = $1 limit 1';

// ------------------------------------------------------------------ S4's raw replay of a create
/*
 * The create's own minimum statements, on the product's tables with the columns the product writes
 * (TaskService.create / insertTask / JobQueue.enqueue / MediaStore.upload and record, then submitJob's
 * admit and its SUBMITTED transition):
 *   before it, [inline: each media's bytes to a file: flushed temporary file, renamed into place];
 *   transaction 1: [inline: insert each media object's row] + insert the submission job + insert the task
 *     and its event (with the tenant feed's lock, as changeQuery takes it) — one statement;
 *   transaction 2: claim the job (UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED), the
 *     product's claim), read the task's request [inline: its media rows, and their files] — what a submitter
 *     must read to send it —, then the task SUBMITTED (attempt, callback token, first poll, provider
 *     id), its event and the job's deletion — one statement.
 * No provider is called: the product's side includes its HTTP round trip to the simulator.
 * The jobs go to a queue of their own ('bench_submit') that the product's workers do not claim.
 */
const BENCH_QUEUE = 'bench_submit';
const FEED_LOCK = `cross join lateral (select pg_advisory_xact_lock(hashtext('clipwire:feed:' || t.tenant_id::text))) feed_lock`;
const S4 = {
  media:
    'insert into media_objects (id, tenant_id, task_id, sha256, mime, size_bytes, storage_key) values ($1, $2, $3, $4, $5, $6, $7)',
  // The product notifies other processes' workers on Postgres only (JobQueue's notify flag).
  job: `insert into jobs (queue, payload, dedupe_key, group_key, run_at) values ($1, $2::jsonb, $3, null, now())
    on conflict (dedupe_key) do nothing returning ${dbUrl ? `pg_notify('clipwire_bench_jobs', '') is not null` : 'true'} as queued`,
  task: `with t as (
      insert into tasks (id, tenant_id, kind, provider, model, status, status_message, external_task_id, input, provider_request, webhook_url)
      values ($1, $2, $3, $4, $5, 'PENDING', 'waiting to be submitted', null, $6::jsonb, $7::jsonb, null) returning *),
    e as (insert into task_events (task_id, tenant_id, status, source, message)
      select t.id, t.tenant_id, t.status, 'API', 'task created' from t ${FEED_LOCK} returning *)
    select t.*, e.id as event_id from t cross join e`,
  claim: `update jobs set locked_by = $1, locked_until = now() + $2 * interval '1 millisecond', attempts = attempts + 1, dedupe_key = null
    where id in (select id from jobs where queue = $3 and run_at <= now() and (locked_until is null or locked_until < now())
      and (group_key is null or not exists (select 1 from jobs e where e.group_key = jobs.group_key and e.id < jobs.id))
      order by run_at, id limit 1 for update skip locked)
    returning *`,
  read: 'select * from tasks where id = $1 limit 1',
  mediaRead: (n: number) =>
    `select id, storage_key from media_objects where id in (${Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ')})`,
  submitted: `with t as (
      update tasks set status = 'SUBMITTED', version = version + 1, updated_at = now(), status_message = $2, provider_task_id = $3,
        provider_updated_at = now(), progress = null, submitted_at = now(), next_poll_at = now() + interval '30 seconds', poll_delay_ms = 30000,
        callback_token_hash = $4, submit_attempts = submit_attempts + 1, submit_started_at = now()
      where id = $1 and status = 'PENDING' returning *),
    e as (insert into task_events (task_id, tenant_id, status, source, message)
      select t.id, t.tenant_id, 'SUBMITTED', 'API', $2 from t ${FEED_LOCK} returning id),
    d as (delete from jobs where id = $5 returning id)
    select t.*, e.id as event_id, (select count(*) from d)::int as deleted from t cross join e`,
};

/** The media ids a stored provider request refers to ({ mediaId } anywhere in it). */
function mediaIdsOf(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => mediaIdsOf(x, out));
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.mediaId === 'string') out.push(o.mediaId);
    else Object.values(o).forEach((x) => mediaIdsOf(x, out));
  }
  return out;
}

serve(
  {
    info: () => ({
      url,
      driver,
      sandboxApiKey: app.sandboxApiKey,
      pid: process.pid,
      rls: app.db.rowLevelSecurity,
      workerConcurrency: config.worker.concurrency,
    }),
    /** The ids of a tenant's tasks: one statement. */
    async taskIds({ tenantId }: { tenantId: string }) {
      return (await rawQuery('select id from tasks where tenant_id = $1', [tenantId])).map((r) => r.id as string);
    },
    async newTenant({ name }: { name: string }) {
      const tenantId = await createTenant(app.db.db, name);
      const { key } = await createApiKey(app.db.db, tenantId, `${name} bench key`);
      return { tenantId, apiKey: key };
    },
    /**
     * generate_series straight into tasks: ids md5(prefix||i)::uuid, callback tokens prefix||'tok'||i
     * (padded, stored as sha256 hex) and created_at one millisecond apart, newest first.
     */
    async seedTasks(a: {
      tenantId: string;
      prefix: string;
      from: number;
      to: number;
      status: string;
      tokens: boolean;
      chunk?: number;
    }) {
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
      const tasks = tenantId
        ? await rawQuery(`select status, count(*)::int as n from tasks where tenant_id = $1 group by status`, [
            tenantId,
          ])
        : [];
      const events = tenantId
        ? await rawQuery(`select count(*)::int as n from task_events where tenant_id = $1`, [tenantId])
        : [];
      return {
        jobs: Object.fromEntries(jobs.map((r) => [r.queue, r.n])),
        tasks: Object.fromEntries(tasks.map((r) => [r.status, r.n])),
        events: events[0]?.n ?? 0,
      };
    },
    /** Keyset cursor of the row at `offset` in the newest-first order (the `after` of the next page). */
    async cursorAt({ tenantId, offset }: { tenantId: string; offset: number }) {
      const [row] = await rawQuery(
        `select id, created_at from tasks where tenant_id = $1 order by created_at desc, id desc offset $2 limit 1`,
        [tenantId, offset],
      );
      const created = new Date(row.created_at);
      return {
        cursor: Buffer.from(`${created.getTime()}:${row.id}`).toString('base64url'),
        id: row.id,
        createdAt: created.toISOString(),
      };
    },
    /**
     * Tasks of a tenant by status, how many were submitted (whatever their status since: a poll may have
     * moved the first ones on), and the last submitted_at (epoch ms): one statement.
     */
    async taskCounts({ tenantId }: { tenantId: string }) {
      const rows = await rawQuery(
        `select status, count(*)::int as n, count(submitted_at)::int as submitted, (extract(epoch from max(submitted_at)) * 1000)::float8 as last_submitted_ms
           from tasks where tenant_id = $1 group by status`,
        [tenantId],
      );
      return {
        byStatus: Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>,
        total: rows.reduce((s, r) => s + r.n, 0),
        submitted: rows.reduce((s, r) => s + r.submitted, 0),
        lastSubmittedMs: Math.max(0, ...rows.map((r) => Number(r.last_submitted_ms ?? 0))),
      };
    },
    /** Jobs of the product's queues still in the table: one statement. */
    async jobCount() {
      const [row] = await rawQuery(
        `select count(*)::int as n from jobs where queue in ('submit', 'refresh', 'webhook')`,
      );
      return row.n as number;
    },
    /**
     * The bench database's committed transactions so far (pg_stat_database.xact_commit, after
     * pg_stat_clear_snapshot()), with how many statements the bench itself had run on that database
     * before this reading. On Postgres it is read over a connection to the admin database (so the
     * reading commits nothing in the bench database); on PGlite, whose only connection is the product's,
     * the reading's two statements are counted among the bench's own.
     */
    async xacts() {
      const before = benchStatements;
      let commits: number;
      if (rawPg) {
        statsPg ??= postgres(process.env.BENCH_ADMIN_URL!, { max: 1, onnotice: () => {} });
        await statsPg.unsafe('select pg_stat_clear_snapshot()');
        const [row] = await statsPg.unsafe('select xact_commit::float8 as c from pg_stat_database where datname = $1', [
          new URL(dbUrl!).pathname.slice(1),
        ]);
        commits = Number(row!.c);
      } else {
        await rawQuery('select pg_stat_clear_snapshot()');
        const [row] = await rawQuery(
          'select xact_commit::float8 as c from pg_stat_database where datname = current_database()',
        );
        commits = Number(row.c);
      }
      return { commits, benchStatements: before, at: Date.now() };
    },
    /** Takes a tenant's running tasks off the poll schedule once a scenario is done with them, so that their first poll does not land in a later scenario. */
    async retireTasks({ tenantId }: { tenantId: string }) {
      await rawQuery(`update tasks set next_poll_at = null where tenant_id = $1 and next_poll_at is not null`, [
        tenantId,
      ]);
      return null;
    },
    /**
     * S1 baseline, seeded rows `prefix` 0…n-1 (with callback tokens): a fresh operation is
     * transitionTask's statement (prepared) for the next row; `replay` of the operations repeat a row
     * already moved and cost what a replay costs the product once its signature checks — its
     * token lookup, one indexed SELECT by callback_token_hash (prepared), and nothing else.
     * `concurrency` loops, bounded by count and time, after a warm-up of both statements on rows that
     * do not exist.
     */
    async rawTransitions(a: {
      prefix: string;
      n: number;
      replay: number;
      concurrency: number;
      durationMs: number;
      warmMs: number;
    }) {
      await warmUp(
        async () => {
          await rawTransition(randomUUID());
          await rawQuery(TOKEN_LOOKUP, [sha256(randomUUID())]);
        },
        a.concurrency,
        a.warmMs,
      );
      let next = 0;
      const done: number[] = [];
      let ops = 0;
      let moved = 0;
      let replays = 0;
      let badReplays = 0;
      const lat: number[] = [];
      const cpu0 = process.cpuUsage();
      const deadline = performance.now() + a.durationMs;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: a.concurrency }, async () => {
          while (performance.now() < deadline) {
            const replay = done.length > 0 && Math.random() < a.replay;
            const t0 = performance.now();
            if (replay) {
              const i = done[Math.floor(Math.random() * done.length)]!;
              const [row] = await rawQuery(TOKEN_LOOKUP, [sha256(seededToken(a.prefix, i))]);
              if (row?.status !== 'PROCESSING') badReplays++;
              replays++;
            } else {
              if (next >= a.n) break;
              const i = next++;
              if (await rawTransition(seededId(a.prefix, i))) moved++;
              done.push(i);
            }
            lat.push(performance.now() - t0);
            ops++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpu0);
      return {
        cpuMs: (cpu.user + cpu.system) / 1000,
        movedPerSec: moved / seconds,
        opsPerSec: ops / seconds,
        ops,
        moved,
        fresh: done.length,
        replays,
        badReplays,
        ranOut: next >= a.n,
        seconds,
        latency: summarize(lat),
      };
    },
    /** S2 baseline part: transitionTask's statement (prepared, warmed), open loop at `rate`/s, its latency. */
    async rawUpdateLatency(a: { tenantId: string; ids: string[]; rate: number }) {
      await warmUp(() => rawTransition(randomUUID()), 12, 500);
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
    /**
     * S4 baseline: the create's minimum statements (see S4 above) on the raw driver for tenant
     * `tenantId`, modelled on a task the product created for `templateTenantId` (its kind, model,
     * input, request and media). `concurrency` loops create for `durationMs` (each: transaction 1),
     * `workers` loops (the product's submit worker concurrency) claim and submit (transaction 2), woken
     * when a create commits, until every task created is SUBMITTED. Warmed on a throwaway tenant first.
     */
    async rawCreates(a: {
      tenantId: string;
      warmTenantId: string;
      templateTenantId: string;
      concurrency: number;
      workers: number;
      durationMs: number;
      warmMs: number;
    }) {
      // A task still holding its request (a finished task's is cleared), so the replay stores and reads the same media.
      const [tpl] = await rawQuery(
        'select kind, provider, model, input, provider_request from tasks where tenant_id = $1 and provider_request is not null order by created_at limit 1',
        [a.templateTenantId],
      );
      if (!tpl) throw new Error('S4: no product task to model the raw replay on');
      const request =
        typeof tpl.provider_request === 'string' ? JSON.parse(tpl.provider_request) : tpl.provider_request;
      const input = typeof tpl.input === 'string' ? tpl.input : JSON.stringify(tpl.input);
      const requestText = JSON.stringify(request);
      const mediaIds = mediaIdsOf(request);
      const media: { id: string; sha256: string; mime: string; size: number; bytes: Buffer }[] = [];
      for (const id of mediaIds) {
        const [m] = await rawQuery('select id, sha256, mime, size_bytes from media_objects where id = $1', [id]);
        const bytes = await app.services.media.bytes((await app.services.media.get(id))!);
        media.push({ id: m.id, sha256: m.sha256, mime: m.mime, size: m.size_bytes, bytes });
      }
      // The media's bytes as files, written as the product's file store writes them (a flushed
      // temporary file renamed into place) and read back whole for the submission.
      const rawDir = await mkdtemp(join(tmpdir(), 'clipwire-bench-raw-'));
      const writeObject = async (key: string, bytes: Buffer) => {
        const temp = join(rawDir, `${key}.tmp`);
        await writeFile(temp, bytes, { flush: true });
        await rename(temp, join(rawDir, key));
      };
      const workerId = `bench-${randomBytes(4).toString('hex')}`;
      const run = async (tenantId: string, durationMs: number) => {
        let created = 0;
        let submitted = 0;
        let creating = true;
        let lastAt = 0;
        let waiters: (() => void)[] = [];
        const signal = () => {
          const w = waiters;
          waiters = [];
          for (const f of w) f();
        };
        const createOne = () =>
          rawTx(async (q) => {
            const id = randomUUID();
            let text = requestText;
            for (const m of media) {
              const mediaId = randomUUID();
              await writeObject(mediaId, m.bytes);
              await q(S4.media, [mediaId, tenantId, id, m.sha256, m.mime, m.size, mediaId]);
              text = text.replaceAll(m.id, mediaId);
            }
            await q(S4.job, [BENCH_QUEUE, JSON.stringify({ taskId: id }), `submit:${id}`]);
            await q(S4.task, [id, tenantId, tpl.kind, tpl.provider, tpl.model, input, text]);
          });
        const submitOne = () =>
          rawTx(async (q) => {
            const [job] = await q(S4.claim, [workerId, 120_000, BENCH_QUEUE]);
            if (!job) return false;
            const payload = typeof job.payload === 'string' ? JSON.parse(job.payload) : job.payload;
            const [task] = await q(S4.read, [payload.taskId]);
            const ids = mediaIdsOf(
              typeof task.provider_request === 'string' ? JSON.parse(task.provider_request) : task.provider_request,
            );
            if (ids.length > 0) {
              const rows = await q(S4.mediaRead(ids.length), ids);
              if (rows.length !== ids.length) throw new Error('S4 raw replay: media missing');
              for (const row of rows) await readFile(join(rawDir, row.storage_key));
            }
            const [done] = await q(S4.submitted, [
              task.id,
              `accepted by ${task.provider}`,
              `bench-${task.id.slice(0, 8)}`,
              sha256(randomBytes(32).toString('base64url')),
              job.id,
            ]);
            if (!done) throw new Error('S4 raw replay: the task was not PENDING');
            return true;
          });
        const started = performance.now();
        const deadline = started + durationMs;
        const creators = Promise.all(
          Array.from({ length: a.concurrency }, async () => {
            while (performance.now() < deadline) {
              await createOne();
              created++;
              signal();
            }
          }),
        ).finally(() => {
          creating = false;
          signal();
        });
        const hardDeadline = deadline + 300_000;
        const workers = Promise.all(
          Array.from({ length: a.workers }, async () => {
            while (performance.now() < hardDeadline) {
              if (await submitOne()) {
                submitted++;
                lastAt = performance.now();
                signal();
                continue;
              }
              if (!creating && submitted >= created) return;
              // Nothing to claim: wait for the next create (or submission) to commit, or 50 ms.
              await new Promise<void>((r) => {
                const t = setTimeout(r, 50);
                waiters.push(() => {
                  clearTimeout(t);
                  r();
                });
              });
            }
          }),
        );
        await Promise.all([creators, workers]);
        const createSeconds = (deadline - started) / 1000;
        const seconds = (lastAt - started) / 1000;
        return { created, submitted, seconds, createSeconds, perSec: submitted / seconds };
      };
      await run(a.warmTenantId, a.warmMs);
      const cpu0 = process.cpuUsage();
      const r = await run(a.tenantId, a.durationMs);
      const cpu = process.cpuUsage(cpu0);
      return {
        ...r,
        cpuMs: (cpu.user + cpu.system) / 1000,
        media: media.length,
        bodyBytes: media.reduce((s, m) => s + m.size, 0),
      };
    },
    /** S5 baseline: listTasks' keyset SELECT (the same row comparison) on the raw driver, closed loop at `concurrency`. */
    async rawKeyset(a: {
      tenantId: string;
      cursor: { id: string; createdAt: string } | null;
      concurrency: number;
      durationMs: number;
      limit: number;
    }) {
      const q = a.cursor
        ? `select * from tasks where tenant_id = $1 and (created_at, id) < ($2::timestamptz, $3::uuid) order by created_at desc, id desc limit $4`
        : `select * from tasks where tenant_id = $1 order by created_at desc, id desc limit $2`;
      const params = a.cursor
        ? [a.tenantId, new Date(a.cursor.createdAt), a.cursor.id, a.limit]
        : [a.tenantId, a.limit];
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
    await statsPg?.end({ timeout: 5 });
  },
);
process.send?.({ id: 0, result: 'ready' });
