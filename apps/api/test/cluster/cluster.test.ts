import type { Client } from 'graphql-ws';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from '../support/ids.js';
import { CREATE_AVATAR, SAMPLE_INPUT } from '../support/stack.js';
import {
  Cluster,
  eventually,
  freePort,
  gql,
  gqlOk,
  httpGet,
  metricSum,
  ResumingFeed,
  servicesOrWarn,
  sleep,
  wsClient,
  type ClipwireProcess,
} from './cluster-support.js';

/*
 * Scale-out (issue #7). Real child processes in the roles of docker-compose.yml — a one-shot
 * migration, API A and API B (CLIPWIRE_ROLE=api) and one worker (CLIPWIRE_ROLE=worker) — share one
 * fresh Postgres database and Redis; the Kling simulator runs in this process. PUBLIC_BASE_URL is
 * API A's URL, so the worker (which submits) gives Kling callback URLs on A.
 *
 * The tests run in order on the same cluster: the last one kills API B.
 */

const available = await servicesOrWarn('cluster.test.ts');

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELED'];
/**
 * Kling ends a task 2.5 s after its create, with callbacks at 'submitted', 'processing' and
 * 'succeed': slow enough that the worker has recorded the submission before they arrive even on a
 * loaded machine (a callback arriving while the task is still PENDING is dropped: see the report).
 */
const KLING_TIMING = { processingAfterMs: 1000, succeedAfterMs: 2500 };
const METRIC_FAMILIES = [
  'clipwire_http_requests_total',
  'clipwire_graphql_operations_total',
  'clipwire_graphql_open_subscriptions',
  'clipwire_tasks',
  'clipwire_provider_call_duration_seconds',
  'clipwire_job_queue_depth',
  'clipwire_job_queue_oldest_seconds',
  'clipwire_webhook_deliveries_total',
];
const TASK_UPDATED = /* GraphQL */ `
  subscription ($id: ID!) { taskUpdated(id: $id) { id status updatedAt } }
`;

function avatarInput(externalTaskId: string) {
  return { provider: 'KLING', image: SAMPLE_INPUT.image, kling: { audioId: 'x' }, externalTaskId };
}

describe.skipIf(!available)(
  'Clipwire scaled out: API A, API B and a worker as separate processes on one Postgres and Redis',
  () => {
    let cluster: Cluster;
    let sql: postgres.Sql;
    let apiA: ClipwireProcess;
    let apiB: ClipwireProcess;
    let worker: ClipwireProcess;
    let key: string;
    const clients: Client[] = [];
    const feeds: ResumingFeed[] = [];

    /** Every event of the tenant in the database, oldest first. */
    async function dbEvents(): Promise<{ id: string; task_id: string; status: string; source: string }[]> {
      return sql`select e.id::text as id, e.task_id::text as task_id, e.status, e.source
               from task_events e join tenants t on t.id = e.tenant_id
               where t.name = 'sandbox' order by e.id`;
    }

    async function lastEventCursor(): Promise<string | null> {
      return (await dbEvents()).at(-1)?.id ?? null;
    }

    beforeAll(async () => {
      cluster = await Cluster.create({ klingTiming: KLING_TIMING });
      sql = cluster.sql();
      const ports = new Set<number>();
      while (ports.size < 3) ports.add(await freePort());
      const [portA, portB, portW] = [...ports] as [number, number, number];
      cluster.publicBaseUrl = `http://127.0.0.1:${portA}`;
      // Migrations once, by the one-shot role, as docker-compose does; then one process (which
      // creates the sandbox tenant), then the others side by side.
      await cluster.migrate();
      apiA = cluster.start('api-a', 'api', portA);
      await apiA.ready();
      apiB = cluster.start('api-b', 'api', portB);
      worker = cluster.start('worker', 'worker', portW);
      await Promise.all([apiB.ready(), worker.ready()]);
      key = await cluster.readApiKey();
    }, 120_000);

    afterAll(async () => {
      await Promise.all(feeds.map((f) => f.dispose()));
      await Promise.all(clients.map((c) => c.dispose()));
      await sql?.end({ timeout: 5 });
      await cluster?.dispose();
    }, 60_000);

    it('a graphql-ws subscriber on API B receives every event of a task created on API A, whose callbacks arrive at A', async () => {
      const start = await lastEventCursor();
      const feed = new ResumingFeed([apiB], key, start);
      feeds.push(feed);
      await feed.whenConnected();

      const created = (await gqlOk(apiA, key, CREATE_AVATAR, { input: avatarInput('cluster-one') })).createAvatarVideo;
      expect(created).toMatchObject({ __typename: 'Task', status: 'PENDING' });
      const uuid = uuidOf(created.id);

      // taskUpdated on B as well: the current state first, then each change, completing when final.
      const updatesClient = wsClient(apiB.url, key);
      clients.push(updatesClient);
      const updates: { status: string; updatedAt: string }[] = [];
      const updatesDone = (async () => {
        for await (const value of updatesClient.iterate<{ taskUpdated: { status: string; updatedAt: string } }>({
          query: TASK_UPDATED,
          variables: { id: created.id },
        })) {
          updates.push(value.data!.taskUpdated);
        }
      })();

      await eventually(
        async () => {
          const res = await gqlOk(apiA, key, `query ($id: ID!) { task(id: $id) { status } }`, { id: created.id });
          return TERMINAL.includes(res.task.status) && res.task;
        },
        20_000,
        () => `task ${uuid} to finish\n${worker.logTail()}`,
      );
      const stored = (await dbEvents()).filter((e) => e.task_id === uuid);
      // PROCESSING is recorded unless the worker's read of Kling came after the task had succeeded.
      expect(stored.map((e) => e.status).join(',')).toMatch(/^PENDING,SUBMITTED,(PROCESSING,)?SUCCEEDED$/);

      // Every event of the task reached B's subscriber, once, in order, over the one connection.
      await eventually(
        async () => feed.events.filter((e) => e.taskId === created.id).length >= stored.length,
        10_000,
        () => `B's subscriber to get ${stored.length} events; got ${JSON.stringify(feed.events)}`,
      );
      const seen = feed.events.filter((e) => e.taskId === created.id);
      expect(seen.map((e) => [e.cursor, e.status, e.source])).toEqual(stored.map((e) => [e.id, e.status, e.source]));
      expect(feed.connections).toEqual([{ via: 'api-b' }]);
      expect(feed.failure).toBeUndefined();

      // taskUpdated on B completed with the final state, never going backwards.
      await Promise.race([
        updatesDone,
        sleep(10_000).then(() => Promise.reject(new Error(`taskUpdated did not complete: ${JSON.stringify(updates)}`))),
      ]);
      expect(updates.at(-1)?.status).toBe('SUCCEEDED');
      const order = ['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED'];
      const ranks = updates.map((u) => order.indexOf(u.status));
      expect(
        ranks.every((r, i) => r >= 0 && (i === 0 || r > ranks[i - 1]!)),
        JSON.stringify(updates),
      ).toBe(true);

      // The changes came from provider callbacks, and every callback went to A (and only to A).
      expect(
        stored
          .slice(2)
          .map((e) => e.source)
          .every((source) => source === 'CALLBACK'),
        JSON.stringify(stored),
      ).toBe(true);
      const callbacks = cluster.sim.kling
        .sentCallbacks()
        .filter((c) => (c.body as { task_info?: { external_task_id?: string } }).task_info?.external_task_id === uuid);
      expect(callbacks.length).toBeGreaterThanOrEqual(2);
      for (const c of callbacks) {
        expect(c.url.startsWith(`${apiA.url}/callbacks/kling/`), c.url).toBe(true);
        expect(c.status).toBe(200);
      }
      const [metricsA, metricsB, metricsW] = await Promise.all(
        [apiA, apiB, worker].map((p) => httpGet(`${p.url}/metrics`).then((r) => r.text)),
      );
      expect(
        metricSum(metricsA!, 'clipwire_http_requests_total', { route: '/callbacks/kling', status: '200' }),
      ).toBeGreaterThanOrEqual(callbacks.length);
      expect(metricSum(metricsB!, 'clipwire_http_requests_total', { route: '/callbacks/kling' })).toBe(0);
      // The create went through A; the submission and the reads of Kling were the worker's alone.
      expect(
        metricSum(metricsA!, 'clipwire_graphql_operations_total', { type: 'mutation', outcome: 'ok' }),
      ).toBeGreaterThanOrEqual(1);
      expect(cluster.sim.kling.createsFor(uuid)).toBe(1);
      expect(metricSum(metricsA!, 'clipwire_provider_call_duration_seconds_count')).toBe(0);
      expect(metricSum(metricsB!, 'clipwire_provider_call_duration_seconds_count')).toBe(0);
      expect(
        metricSum(metricsW!, 'clipwire_provider_call_duration_seconds_count', { provider: 'KLING' }),
      ).toBeGreaterThanOrEqual(3);
    });

    it('every process exposes the documented metric families on /metrics, and /readyz reports Postgres and redis ok', async () => {
      // An open subscription on B, to see it counted.
      const feed = new ResumingFeed([apiB], key, null);
      feeds.push(feed);
      await feed.whenConnected();
      await eventually(async () => feed.events.length > 0, 10_000, 'the feed on B to replay');
      for (const p of [apiA, apiB, worker]) {
        const ready = await httpGet(`${p.url}/readyz`);
        expect(ready.status, p.label).toBe(200);
        expect(JSON.parse(ready.text), p.label).toEqual({ status: 'ready', database: 'postgres', redis: 'ok' });

        const metrics = await httpGet(`${p.url}/metrics`);
        expect(metrics.status, p.label).toBe(200);
        for (const family of METRIC_FAMILIES)
          expect(metrics.text, `${p.label}: ${family}`).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
        // Task gauges are read from the shared database: every process reports the cluster's totals.
        expect(
          metricSum(metrics.text, 'clipwire_tasks', { status: 'SUCCEEDED', provider: 'KLING' }),
          p.label,
        ).toBeGreaterThanOrEqual(1);
        expect(
          metricSum(metrics.text, 'clipwire_http_requests_total', { route: '/readyz', status: '200' }),
          p.label,
        ).toBeGreaterThanOrEqual(1);
      }
      const metricsB = (await httpGet(`${apiB.url}/metrics`)).text;
      expect(metricSum(metricsB, 'clipwire_graphql_open_subscriptions')).toBeGreaterThanOrEqual(1);
      expect(
        metricSum(metricsB, 'clipwire_graphql_operations_total', { type: 'subscription', name: 'Feed' }),
      ).toBeGreaterThanOrEqual(1);
      await feed.dispose();
    });

    it('SIGKILL of API B mid-stream loses no task, and its WebSocket subscribers resume taskEvents(after: lastCursor) on API A without a gap', async () => {
      const start = await lastEventCursor();
      // Two subscribers on B (one from the very first event, one from now) that fail over to A, and a
      // control subscriber on A that is never interrupted.
      const fromStart = new ResumingFeed([apiB, apiA], key, null);
      const fromNow = new ResumingFeed([apiB, apiA], key, start);
      const control = new ResumingFeed([apiA], key, start);
      feeds.push(fromStart, fromNow, control);
      await Promise.all([fromStart, fromNow, control].map((f) => f.whenConnected()));
      await eventually(async () => fromStart.events.length > 0, 10_000, 'the replay on B to start');

      // Tasks, one every 60 ms, alternately through A and B. B is SIGKILLed right after a create was
      // sent to it, once it has answered a few creates and its subscribers have had events of this
      // test (so it dies mid-stream, whatever the machine's speed); then 16 more tasks go to A. A
      // create that B never answered is sent again to A with the same externalTaskId, as a client
      // behind a load balancer would.
      const outcomes: { externalTaskId: string; via: string; result: string }[] = [];
      const create = async (i: number): Promise<void> => {
        const externalTaskId = `kill-${i}`;
        const first = i % 2 === 1 && apiB.alive ? apiB : apiA;
        const res = await gql(first.url, key, CREATE_AVATAR, { input: avatarInput(externalTaskId) });
        if (res.ok) {
          expect(res.data?.createAvatarVideo?.__typename, JSON.stringify(res)).toBe('Task');
          outcomes.push({ externalTaskId, via: first.label, result: 'created' });
          return;
        }
        expect(first.label, `API A failed to answer: ${res.error}`).toBe('api-b');
        const again = await gqlOk(apiA, key, CREATE_AVATAR, { input: avatarInput(externalTaskId) });
        const typename = again.createAvatarVideo.__typename;
        // Either B had committed it before dying (a duplicate now), or it had not (created now).
        expect(['Task', 'DuplicateExternalTaskId']).toContain(typename);
        outcomes.push({
          externalTaskId,
          via: 'api-b then api-a',
          result: typename === 'Task' ? 'created on retry' : 'B had committed it',
        });
      };
      const isNew = (e: { cursor: string }) => start === null || BigInt(e.cursor) > BigInt(start);
      const streamingOnB = () =>
        outcomes.filter((o) => o.via === 'api-b').length >= 3 &&
        [fromStart, fromNow].every((f) => f.events.some((e) => e.via === 'api-b' && isNew(e)));
      const pending: Promise<void>[] = [];
      let killedAfter = -1;
      let n = 0;
      for (; killedAfter < 0 || n < killedAfter + 16; n++) {
        pending.push(create(n));
        if (killedAfter < 0 && n % 2 === 1 && streamingOnB()) {
          apiB.signal('SIGKILL');
          killedAfter = n;
          const exit = await apiB.waitExit(10_000);
          expect(exit.signal).toBe('SIGKILL');
        }
        if (killedAfter < 0 && n >= 300)
          throw new Error(`B never answered 3 creates and streamed: ${JSON.stringify(outcomes)}\n${apiB.logTail()}`);
        await sleep(60);
      }
      const N = n;
      await Promise.all(pending);
      const tally = new Map<string, number>();
      for (const o of outcomes) tally.set(`${o.via}: ${o.result}`, (tally.get(`${o.via}: ${o.result}`) ?? 0) + 1);
      console.info(
        `[cluster] ${N} creates, api-b SIGKILLed after #${killedAfter}: ${[...tally].map(([k, c]) => `${k} ×${c}`).join(', ')}`,
      );

      // No task lost: one task per externalTaskId, every task of the install terminal, and succeeded.
      const tasks = await eventually(
        async () => {
          const rows = await sql<{ id: string; external_task_id: string; status: string }[]>`
          select id::text, external_task_id, status from tasks where external_task_id like 'kill-%'`;
          return rows.length === N && rows.every((r) => TERMINAL.includes(r.status)) && rows;
        },
        45_000,
        () => `all ${N} tasks to be terminal\n${worker.logTail()}\n${apiA.logTail()}`,
      );
      expect(new Set(tasks.map((t) => t.external_task_id)).size).toBe(N);
      expect(tasks.filter((t) => t.status !== 'SUCCEEDED')).toEqual([]);
      const unfinished = await sql<
        { n: number }[]
      >`select count(*)::int as n from tasks where status not in ('SUCCEEDED', 'FAILED', 'CANCELED')`;
      expect(unfinished[0]?.n).toBe(0);
      // Each was sent to Kling exactly once, whichever API took it.
      expect(
        tasks
          .filter((t) => cluster.sim.kling.createsFor(t.id) !== 1)
          .map((t) => [t.external_task_id, cluster.sim.kling.createsFor(t.id)]),
      ).toEqual([]);

      // The feeds: every event id of the tenant in the database, exactly once, in order, across
      // the connection to B and the one to A that resumed after B's last cursor.
      const all = await dbEvents();
      const last = all.at(-1)!.id;
      await eventually(
        async () => [fromStart, fromNow, control].every((f) => f.lastCursor === last),
        15_000,
        () =>
          `the feeds to reach cursor ${last}: ${[fromStart, fromNow, control].map((f) => `${f.lastCursor} ${JSON.stringify(f.connections)}`).join(' | ')}`,
      );
      await sleep(300); // nothing more may arrive
      const ids = all.map((e) => e.id);
      const after = (cursor: string | null) => ids.filter((id) => cursor === null || BigInt(id) > BigInt(cursor));
      expect(fromStart.events.map((e) => e.cursor)).toEqual(ids);
      expect(fromNow.events.map((e) => e.cursor)).toEqual(after(start));
      expect(control.events.map((e) => e.cursor)).toEqual(after(start));
      expect(control.connections).toEqual([{ via: 'api-a' }]);
      for (const feed of [fromStart, fromNow]) {
        expect(feed.failure).toBeUndefined();
        // B's connection died with the process (1006: no close frame), and A's took over.
        expect(feed.connections).toEqual([{ via: 'api-b', ended: 'closed 1006' }, { via: 'api-a' }]);
        const newOnes = feed.events.filter(isNew);
        // Mid-stream: events of this test arrived through B before the kill and through A after it.
        expect(newOnes.filter((e) => e.via === 'api-b').length).toBeGreaterThan(0);
        expect(newOnes.filter((e) => e.via === 'api-a').length).toBeGreaterThan(0);
        const taskOf = new Map(all.map((e) => [e.id, e.task_id]));
        expect(feed.events.every((e) => uuidOf(e.taskId) === taskOf.get(e.cursor))).toBe(true);
      }
    }, 120_000);
  },
);
