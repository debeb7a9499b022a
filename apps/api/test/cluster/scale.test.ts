import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from '../support/ids.js';
import { CREATE_AVATAR, SAMPLE_INPUT } from '../support/stack.js';
import {
  Cluster,
  eventually,
  freePort,
  gql,
  httpGet,
  mapLimit,
  metricSum,
  servicesOrWarn,
  type ClipwireProcess,
} from './cluster-support.js';

/*
 * Double processing (issue #7): 500 Kling tasks created through one API process and run by three
 * worker processes competing for the same Postgres job table (FOR UPDATE SKIP LOCKED, NOTIFY
 * clipwire_jobs). Limits are raised out of the way (KLING_CONCURRENCY 1000, per-key rate limit)
 * and the simulator is fast, so that what is measured is whether any task is submitted twice.
 */

const available = await servicesOrWarn('scale.test.ts');

const TASKS = 500;
const WORKERS = 3;

describe.skipIf(!available)(`${TASKS} tasks with ${WORKERS} worker processes and one API process`, () => {
  let cluster: Cluster;
  let sql: postgres.Sql;
  let api: ClipwireProcess;
  const workers: ClipwireProcess[] = [];

  beforeAll(async () => {
    cluster = await Cluster.create({ klingTiming: { processingAfterMs: 300, succeedAfterMs: 900 } });
    sql = cluster.sql();
    const ports = new Set<number>();
    while (ports.size < WORKERS + 1) ports.add(await freePort());
    const [apiPort, ...workerPorts] = [...ports] as [number, ...number[]];
    cluster.publicBaseUrl = `http://127.0.0.1:${apiPort}`;
    await cluster.migrate();
    api = cluster.start('api', 'api', apiPort);
    await api.ready();
    workers.push(...workerPorts.map((port, i) => cluster.start(`worker-${i + 1}`, 'worker', port)));
    await Promise.all(workers.map((w) => w.ready()));
    await cluster.readApiKey();
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await cluster?.dispose();
  }, 60_000);

  it(`each of ${TASKS} tasks is submitted to Kling exactly once and all reach SUCCEEDED`, async () => {
    const started = Date.now();
    const ids = await mapLimit(
      Array.from({ length: TASKS }, (_, i) => i),
      8,
      async (i) => {
        const res = await gql(api.url, cluster.apiKey, CREATE_AVATAR, {
          input: {
            provider: 'KLING',
            image: SAMPLE_INPUT.image,
            kling: { audioId: 'x' },
            externalTaskId: `scale-${i}`,
          },
        });
        if (!res.ok || res.data?.createAvatarVideo?.__typename !== 'Task')
          throw new Error(`create ${i} failed: ${JSON.stringify(res)}\n${api.logTail()}`);
        return uuidOf(res.data.createAvatarVideo.id as string);
      },
    );
    const createdMs = Date.now() - started;
    expect(new Set(ids).size).toBe(TASKS);

    const statuses = () =>
      sql<
        { status: string; n: number }[]
      >`select status, count(*)::int as n from tasks group by status order by status`;
    await eventually(
      async () => {
        const rows = await statuses();
        return rows.length === 1 && rows[0]!.status === 'SUCCEEDED' && rows[0]!.n === TASKS;
      },
      100_000,
      () => `all ${TASKS} tasks to succeed\n${workers.map((w) => w.logTail(1500)).join('\n')}`,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\nstatuses: ${JSON.stringify(await statuses())}`);
    });
    const finishedMs = Date.now() - started;
    // How the tasks learned they were done (CALLBACK, or POLL when no callback got through in time).
    const sources = await sql<{ source: string; n: number }[]>`
      select source, count(*)::int as n from task_events where status = 'SUCCEEDED' group by source order by source`;
    const callbackStatuses = new Map<string, number>();
    for (const c of cluster.sim.kling.sentCallbacks())
      callbackStatuses.set(String(c.status), (callbackStatuses.get(String(c.status)) ?? 0) + 1);
    console.info(
      `[scale] ${TASKS} tasks created in ${createdMs} ms, all SUCCEEDED after ${finishedMs} ms; ` +
        `SUCCEEDED learned by ${sources.map((r) => `${r.source} ×${r.n}`).join(', ')}; Kling callbacks answered ${[...callbackStatuses].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    );

    // Exactly one create per task reached Kling, and no other.
    const kling = cluster.sim.kling;
    expect(ids.filter((id) => kling.createsFor(id) !== 1).map((id) => [id, kling.createsFor(id)])).toEqual([]);
    expect(kling.createCount()).toBe(TASKS);

    // One history per task, no status twice: PENDING, SUBMITTED, PROCESSING (unless the task had
    // already succeeded when its refresh read Kling), SUCCEEDED.
    const histories = await sql<{ history: string; n: number }[]>`
      select history, count(*)::int as n from (
        select string_agg(status, ',' order by id) as history from task_events group by task_id
      ) h group by history order by history`;
    expect(histories.filter((h) => !/^PENDING,SUBMITTED,(PROCESSING,)?SUCCEEDED$/.test(h.history))).toEqual([]);
    expect(histories.reduce((sum, h) => sum + h.n, 0)).toBe(TASKS);

    // Nothing left in the job table (but the hourly media maintenance), and no task still counting against Kling.
    await eventually(
      async () => (await sql`select 1 from jobs where queue <> 'maintenance' limit 1`).length === 0,
      10_000,
      'the job table to drain',
    );

    // All three workers took part; the API process made no provider call (role api runs no worker).
    const calls = await Promise.all(
      [api, ...workers].map(async (p) =>
        metricSum((await httpGet(`${p.url}/metrics`)).text, 'clipwire_provider_call_duration_seconds_count', {
          provider: 'KLING',
        }),
      ),
    );
    const [apiCalls, ...workerCalls] = calls;
    console.info(
      `[scale] Kling calls per process: api ${apiCalls}, ${workerCalls.map((n, i) => `worker-${i + 1} ${n}`).join(', ')}`,
    );
    expect(apiCalls).toBe(0);
    for (const n of workerCalls) expect(n).toBeGreaterThan(0);
  }, 180_000);
});
