import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type KieSimTiming, type KlingSimTiming, type Simulator } from '@clipwire/providers/simulator';
import { jobs, tasks } from '@clipwire/schema/tables';
import { isNotNull } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from '../support/ids.js';
import WebSocket from 'ws';
import { SANDBOX_DIGITAL_HUMAN_API_KEY, SANDBOX_KIE_API_KEY, SANDBOX_KLING_API_KEY } from '../../src/config.js';
import type { CrashPoint } from '../../src/crash.js';
import { openDatabase } from '../../src/db/client.js';
import { MAINTENANCE_JOBS } from '../../src/media/lifecycle.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT } from '../support/stack.js';
import {
  ApiChild,
  childApiEnv,
  freePort,
  gql,
  gqlOk,
  limiter,
  sleep,
  startWebhookReceiver,
  type WebhookDelivery,
  type WebhookReceiver,
} from './crash-support.js';

/*
 * Crash resilience. The API runs as a real child process (node dist/main.js) and kills
 * itself with SIGKILL at a fail point (CLIPWIRE_CRASH_AT, src/crash.ts) while tasks are in flight;
 * it is restarted on the same port and data without the fail point. The provider simulator and the
 * webhook receiver live in this process, so they outlive every incarnation of the API and count
 * what really reached them.
 *
 * Every run checks: each acknowledged task reaches a terminal state; a create that got no answer
 * left either nothing (no row, nothing upstream) or a whole task that also finishes; no task of the
 * install is left non-terminal; Kling saw exactly one create per Kling task we have and none for a
 * task we do not have; KIE saw no more creates than there are KIE tasks; every event of a webhook
 * task was delivered, in order, signed, with the same webhook-id on redelivery.
 *
 * Each fail point has its own data dir (or Postgres database), port and simulator, so the points
 * run side by side, two at a time.
 */

const RUNS_PER_POINT = Number(process.env.CRASH_RUNS ?? 3);
/** Long enough for a task whose callbacks were all lost while the API was down to be polled (30 s grace). */
const FINISH_TIMEOUT_MS = 50_000;
/**
 * Kling and KIE end a task 6 s after its create: after the crash, the look at the dead process's
 * database and the restart, so that its last callback usually finds a live API (when it does not,
 * the task is polled 30 s after its submission, and the run is slower but still passes).
 */
const TIMING = {
  kling: { processingAfterMs: 3000, succeedAfterMs: 6000 } satisfies KlingSimTiming,
  kie: { queuingAfterMs: 300, generatingAfterMs: 2000, completeAfterMs: 6000 } satisfies KieSimTiming,
};
const usePostgres = Boolean(process.env.DATABASE_URL);
const atMostTwo = limiter(2);

const TASK_FIELDS = /* GraphQL */ `
  id status provider externalTaskId providerTaskId
  error { code message }
  events(first: 100) { edges { node { cursor status source } } }
`;
const TASK_BY_ID = `query ($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`;
const TASK_BY_EXTERNAL_ID = `query ($externalTaskId: String!) { task(externalTaskId: $externalTaskId) { ${TASK_FIELDS} } }`;
const ALL_TASKS = `query ($after: String) { tasks(first: 100, after: $after) { edges { node { id status externalTaskId } } pageInfo { hasNextPage endCursor } } }`;
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELED'];

interface TaskView {
  id: string;
  status: string;
  provider: 'KLING' | 'KIE';
  externalTaskId: string;
  providerTaskId: string | null;
  error: { code: string; message: string } | null;
  events: { edges: { node: { cursor: string; status: string; source: string } }[] };
  /** Set by waitForFinal: ms from the call (right after a restart) until it was seen terminal. */
  finishedMs?: number;
  /** Kling only: create requests the simulator received with this task's id as external_task_id. */
  upstreamCreates?: number;
}

let receiver: WebhookReceiver;
const environments = new Set<Environment>();

beforeAll(async () => {
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  // Fallback only: every test disposes of its own environment.
  for (const env of environments) await env.dispose();
  await receiver?.stop();
});

interface Environment {
  label: string;
  port: number;
  url: string;
  dataDir: string;
  database: TestDatabase | undefined;
  sim: Simulator;
  children: Set<ApiChild>;
  apiKey: string;
  webhookSecret: string;
  /** Kills what is left of its processes, stops its simulator, removes its data. */
  dispose(): Promise<void>;
}

/**
 * A data dir (file-backed PGlite, or a fresh Postgres database), a port kept across restarts, and
 * a simulator of its own with short timings.
 */
async function newEnvironment(label: string, timing = TIMING): Promise<Environment> {
  const dataDir = await mkdtemp(join(tmpdir(), `clipwire-crash-${label.replace(/\W+/g, '-')}-`));
  const database = usePostgres ? await createTestDatabase() : undefined;
  const port = await freePort();
  const sim = await startSimulator({
    host: '127.0.0.1',
    kling: { apiKey: SANDBOX_KLING_API_KEY, timing: timing.kling, videoToAudioTiming: timing.kling },
    // KIE downloads its inputs from the API's /media links; with the API dead that download fails and
    // KIE fails the task, which says nothing about our engine: here KIE counts inputs as fetched.
    kie: { apiKey: SANDBOX_KIE_API_KEY, timing: timing.kie, fetchInputs: false },
    digitalHuman: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY },
  });
  const children = new Set<ApiChild>();
  let disposed = false;
  const env: Environment = {
    label,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    database,
    sim,
    children,
    apiKey: '',
    webhookSecret: '',
    async dispose() {
      if (disposed) return;
      disposed = true;
      environments.delete(env);
      await Promise.all([...children].map((c) => c.kill()));
      await sim.stop();
      await rm(dataDir, { recursive: true, force: true });
      await database?.drop();
    },
  };
  environments.add(env);
  return env;
}

/** Starts the API on the environment and waits for /readyz; the first start writes the sandbox key. */
async function startApi(env: Environment, crashAt?: CrashPoint): Promise<ApiChild> {
  const childEnv = childApiEnv(
    { port: env.port, dataDir: env.dataDir, simUrl: env.sim.url, databaseUrl: env.database?.url, crashAt },
    {
      JOB_LEASE_MS: '2000',
      POLL_INTERVAL_MS: '200',
      // The engine's crash safety is under test, each task's webhooks its status changes (a crash while
      // archiving outputs is test/outputs/archive-crash.test.ts).
      ARCHIVE_OUTPUTS: 'false',
      PROVIDER_TIMEOUT_MS: '5000',
      WEBHOOK_ALLOW_ORIGINS: receiver.origin,
      // The test polls several tasks at once; per-key rate limiting is not what is under test here.
      API_RATE_LIMIT_PER_SECOND: '1000',
      API_RATE_LIMIT_BURST: '10000',
    },
  );
  const child = new ApiChild(env.url, childEnv, `${env.label} api${crashAt ? ` (crash at ${crashAt})` : ''}`);
  env.children.add(child);
  await child.ready();
  if (!env.apiKey) {
    env.apiKey = (await readFile(join(env.dataDir, 'sandbox-api-key'), 'utf8')).trim();
    const data = await gqlOk(child, env.apiKey, '{ webhookSettings { secret } }');
    env.webhookSecret = data.webhookSettings.secret;
  }
  return child;
}

/** SIGTERM, which must end the process with code 0 within a few seconds. */
async function stopApi(env: Environment, child: ApiChild): Promise<void> {
  child.signal('SIGTERM');
  const exit = await child.waitExit(10_000);
  expect(exit, child.logTail()).toEqual({ code: 0, signal: null });
  env.children.delete(child);
}

interface Planned {
  externalTaskId: string;
  provider: 'KLING' | 'KIE';
  webhook: boolean;
}

interface Attempt extends Planned {
  /** Set when the create mutation returned a Task: the task is acknowledged. */
  id: string | null;
  failure: string | null;
}

/** Three Kling tasks, one KIE task and one webhook task (Kling, or KIE on odd runs). */
function plan(prefix: string, run: number): Planned[] {
  const p = `${prefix.replace(/:/g, '.')}.r${run}`;
  return [
    { externalTaskId: `${p}.kling-0`, provider: 'KLING', webhook: false },
    { externalTaskId: `${p}.kling-1`, provider: 'KLING', webhook: false },
    { externalTaskId: `${p}.kie-0`, provider: 'KIE', webhook: false },
    { externalTaskId: `${p}.kling-2`, provider: 'KLING', webhook: false },
    {
      externalTaskId: `${p}.hook-${run % 2 === 0 ? 'kling' : 'kie'}`,
      provider: run % 2 === 0 ? 'KLING' : 'KIE',
      webhook: true,
    },
  ];
}

async function create(child: ApiChild, env: Environment, p: Planned): Promise<Attempt> {
  const input = {
    provider: p.provider,
    ...SAMPLE_INPUT,
    externalTaskId: p.externalTaskId,
    ...(p.provider === 'KIE' ? { prompt: 'a calm newsreader' } : {}),
    ...(p.webhook ? { webhookUrl: receiver.url } : {}),
  };
  const res = await gql(child.url, env.apiKey, CREATE_AVATAR, { input });
  if (!res.ok) return { ...p, id: null, failure: res.error };
  const payload = res.data?.createAvatarVideo;
  // A create that answers at all answers with the Task: anything else is a failure.
  expect(payload, `${JSON.stringify(res)}\n${child.logTail()}`).toMatchObject({
    __typename: 'Task',
    status: 'PENDING',
    externalTaskId: p.externalTaskId,
  });
  return { ...p, id: payload.id as string, failure: null };
}

async function waitForFinal(
  child: ApiChild,
  env: Environment,
  query: string,
  variables: Record<string, unknown>,
): Promise<TaskView> {
  let last: TaskView | undefined;
  const started = Date.now();
  const deadline = started + FINISH_TIMEOUT_MS;
  for (;;) {
    const data = await gqlOk(child, env.apiKey, query, variables);
    last = data.task as TaskView;
    if (last && TERMINAL.includes(last.status)) return { ...last, finishedMs: Date.now() - started };
    if (Date.now() > deadline) {
      throw new Error(
        `task ${JSON.stringify(variables)} not terminal after ${FINISH_TIMEOUT_MS} ms; last seen ${JSON.stringify(last)}\n${child.logTail()}`,
      );
    }
    await sleep(200);
  }
}

async function allTasks(
  child: ApiChild,
  env: Environment,
): Promise<{ id: string; status: string; externalTaskId: string }[]> {
  const out = [];
  let after: string | null = null;
  for (;;) {
    const data = await gqlOk(child, env.apiKey, ALL_TASKS, { after });
    out.push(...data.tasks.edges.map((e: { node: { id: string; status: string; externalTaskId: string } }) => e.node));
    if (!data.tasks.pageInfo.hasNextPage) return out;
    after = data.tasks.pageInfo.endCursor;
  }
}

/** What the dead process left in the database, read between the crash and the restart. */
interface CrashState {
  tasks: (typeof tasks.$inferSelect)[];
  jobs: (typeof jobs.$inferSelect)[];
}

async function readCrashState(env: Environment): Promise<CrashState> {
  const db = await openDatabase(env.database ? env.database.target : { kind: 'pglite', dataDir: env.dataDir });
  try {
    return { tasks: await db.db.select().from(tasks), jobs: await db.db.select().from(jobs) };
  } finally {
    await db.close();
  }
}

/**
 * Nothing is half-present: every task the dead process committed has a way forward. A PENDING task
 * has its submission job; a running one is due for a poll.
 */
function checkNothingHalfPresent(state: CrashState): void {
  for (const j of state.jobs) {
    // The media maintenance jobs (retention, the upgrade's move) belong to no task.
    if (j.queue === 'maintenance') {
      expect(Object.values(MAINTENANCE_JOBS).map((m) => m.kind as unknown)).toContain(j.payload.kind);
      continue;
    }
    expect(
      state.tasks.some((t) => t.id === j.payload.taskId),
      `${j.queue} job ${j.id} of a task that does not exist`,
    ).toBe(true);
  }
  for (const t of state.tasks) {
    if (t.status === 'PENDING') {
      expect(
        state.jobs.some((j) => j.queue === 'submit' && j.payload.taskId === t.id),
        `PENDING task ${t.externalTaskId} without its submission job`,
      ).toBe(true);
    } else if (t.status === 'SUBMITTED' || t.status === 'PROCESSING') {
      expect(t.nextPollAt, `running task ${t.externalTaskId} without a next poll`).not.toBeNull();
    }
  }
}

const sources = (t: TaskView) => t.events.edges.map((e) => `${e.node.status}/${e.node.source}`);
/** Adopted after a crash: the first status after PENDING was read from Kling (POLL), not returned by our create call (API). */
const adopted = (t: TaskView) => t.events.edges[1]?.node.source === 'POLL';

interface RunReport {
  run: number;
  attempts: Attempt[];
  /** Every task of the run that exists after the restart (acknowledged or not). */
  present: TaskView[];
  /** Creates without an answer that left nothing behind. */
  absent: Attempt[];
  klingCreates: number;
  kieCreates: number;
  /** Provider callbacks to this API that got no HTTP answer (the process died, or was down). */
  unansweredCallbacks: number;
  redeliveries: number;
  crashState: CrashState;
  /** Kling create requests the simulator had received per task id when the process died. */
  klingCreatesAtCrash: Map<string, number>;
  /** Webhook deliveries received before the restart. */
  deliveredBeforeRestart: WebhookDelivery[];
  /** From the first create to the SIGKILL, and from the SIGKILL to the restarted API's readiness. */
  crashAfterMs: number;
  downMs: number;
  ms: number;
}

/**
 * One run: start with the fail point, create the planned tasks at once, see the process die of
 * SIGKILL, restart without the fail point, and check every invariant. Ends with a graceful stop.
 */
async function crashRun(env: Environment, point: CrashPoint, run: number): Promise<RunReport> {
  const { sim } = env;
  const started = Date.now();
  const klingBefore = sim.kling.createCount();
  const kieBefore = sim.kie.createCount();
  const klingCallbacksBefore = sim.kling.sentCallbacks().length;
  const kieCallbacksBefore = sim.kie.sentCallbacks().length;
  const deliveriesBefore = receiver.deliveries.length;

  // Every create reaches 'create:before-commit', so the process that dies there answers none: the
  // tasks in flight when it dies were acknowledged by the previous incarnation.
  const inFlight: Attempt[] = [];
  if (point === 'create:before-commit') {
    const before = await startApi(env);
    inFlight.push(...(await Promise.all(plan(`${point}.in-flight`, run).map((p) => create(before, env, p)))));
    await stopApi(env, before);
    expect(
      inFlight.every((a) => a.id),
      JSON.stringify(inFlight),
    ).toBe(true);
  }
  const crashing = await startApi(env, point);
  const logs = () => `${crashing.logTail(60_000)}\n${api.logTail(60_000)}`;
  const firstCreateAt = Date.now();
  const attempts = [...inFlight, ...(await Promise.all(plan(point, run).map((p) => create(crashing, env, p))))];
  const exit = await crashing.waitExit(20_000);
  const crashedAt = Date.now();
  expect(exit, `the API must die at ${point}\n${crashing.logTail()}`).toEqual({ code: null, signal: 'SIGKILL' });
  env.children.delete(crashing);
  const crashState = await readCrashState(env);
  checkNothingHalfPresent(crashState);
  const klingCreatesAtCrash = new Map(
    crashState.tasks.filter((t) => t.provider === 'KLING').map((t) => [t.id, sim.kling.createsFor(t.id)]),
  );
  const deliveredBeforeRestart = receiver.deliveries.slice(deliveriesBefore);

  const api = await startApi(env);
  const downMs = Date.now() - crashedAt;
  try {
    // Every acknowledged task reaches a terminal state; an unanswered create left all or nothing.
    const settled = await Promise.all(
      attempts.map(async (a) => {
        if (a.id) return { a, task: await waitForFinal(api, env, TASK_BY_ID, { id: a.id }) };
        const data = await gqlOk(api, env.apiKey, TASK_BY_EXTERNAL_ID, { externalTaskId: a.externalTaskId });
        if (!data.task) return { a, task: null };
        return { a, task: await waitForFinal(api, env, TASK_BY_EXTERNAL_ID, { externalTaskId: a.externalTaskId }) };
      }),
    );
    const present = settled.flatMap((s) => (s.task ? [s.task] : []));
    const absent = settled.flatMap((s) => (s.task ? [] : [s.a]));
    for (const { a, task } of settled) {
      if (a.id) expect(task, `acknowledged ${a.externalTaskId} must exist`).not.toBeNull();
      if (!task) continue;
      const what = `${a.externalTaskId}: ${task.status} ${JSON.stringify(task.error)} ${sources(task).join(' → ')}`;
      expect(task.provider, what).toBe(a.provider);
      if (a.provider === 'KLING') {
        // Kling is found again by external_task_id: it always finishes, with exactly one create.
        task.upstreamCreates = sim.kling.createsFor(uuidOf(task.id));
        expect(task.status, what).toBe('SUCCEEDED');
        expect(task.upstreamCreates, `Kling creates for ${what}\n${logs()}`).toBe(1);
      } else if (task.status !== 'SUCCEEDED') {
        // KIE cannot be looked up: an attempt whose outcome the crash hid ends SUBMISSION_UNCONFIRMED.
        expect(task.status, what).toBe('FAILED');
        expect(task.error?.code, what).toBe('SUBMISSION_UNCONFIRMED');
      }
    }

    // Nothing upstream that we do not know of, nothing sent twice.
    const presentKling = present.filter((t) => t.provider === 'KLING');
    const presentKie = present.filter((t) => t.provider === 'KIE');
    const klingCreates = sim.kling.createCount() - klingBefore;
    const kieCreates = sim.kie.createCount() - kieBefore;
    expect(klingCreates, 'Kling tasks created upstream = Kling tasks we have').toBe(presentKling.length);
    expect(kieCreates, 'KIE creates ≤ KIE tasks').toBeLessThanOrEqual(presentKie.length);
    expect(kieCreates, 'each SUCCEEDED KIE task was created upstream').toBeGreaterThanOrEqual(
      presentKie.filter((t) => t.status === 'SUCCEEDED').length,
    );

    // No task of this install is left behind, whether or not its create was answered.
    const stuck = (await allTasks(api, env)).filter((t) => !TERMINAL.includes(t.status));
    expect(stuck, 'tasks not terminal').toEqual([]);

    // Webhooks: every event delivered, in order, signed, the same id on redelivery.
    const runDeliveries = () => receiver.deliveries.slice(deliveriesBefore);
    let redeliveries = 0;
    for (const task of present.filter((t) => attempts.find((a) => a.externalTaskId === t.externalTaskId)!.webhook)) {
      const expected = task.events.edges.map((e) => e.node.cursor);
      const forTask = () => runDeliveries().filter((d) => d.taskId === task.id);
      await eventually(
        async () => expected.every((c) => forTask().some((d) => d.eventCursor === c)),
        15_000,
        `webhooks of ${task.externalTaskId}: events ${expected.join(',')}, got ${JSON.stringify(forTask().map((d) => d.eventCursor))}`,
      );
      redeliveries += checkWebhooks(task, forTask(), env.webhookSecret);
    }

    const callbacks = [
      ...sim.kling.sentCallbacks().slice(klingCallbacksBefore),
      ...sim.kie.sentCallbacks().slice(kieCallbacksBefore),
    ];
    const unansweredCallbacks = callbacks.filter(
      (c) => c.url.startsWith(`${env.url}/callbacks/`) && c.status === 'error',
    ).length;
    return {
      run,
      attempts,
      present,
      absent,
      klingCreates,
      kieCreates,
      unansweredCallbacks,
      redeliveries,
      crashState,
      klingCreatesAtCrash,
      deliveredBeforeRestart,
      crashAfterMs: crashedAt - firstCreateAt,
      downMs,
      ms: Date.now() - started,
    };
  } finally {
    await stopApi(env, api);
  }
}

/** Checks one task's deliveries; returns how many were redeliveries of an id already seen. */
function checkWebhooks(task: TaskView, deliveries: WebhookDelivery[], secret: string): number {
  const expected = task.events.edges.map((e) => ({ cursor: e.node.cursor, status: e.node.status }));
  const verifier = new Webhook(secret);
  const seen = new Map<string, WebhookDelivery>();
  let last = 0;
  for (const d of deliveries) {
    // The webhook-id names the event, so a redelivery carries the same id as the first delivery.
    expect(d.webhookId).toBe(`evt_${d.eventCursor}`);
    expect(() =>
      verifier.verify(d.rawBody, {
        'webhook-id': d.webhookId,
        'webhook-timestamp': d.timestamp,
        'webhook-signature': d.signature,
      }),
    ).not.toThrow();
    // In order per task: never an earlier event after a later one (a redelivery repeats the latest).
    expect(
      Number(d.eventCursor),
      `order of ${task.externalTaskId}: ${deliveries.map((x) => x.eventCursor)}`,
    ).toBeGreaterThanOrEqual(last);
    last = Number(d.eventCursor);
    const first = seen.get(d.webhookId);
    if (first) expect(d.eventStatus).toBe(first.eventStatus);
    else seen.set(d.webhookId, d);
  }
  // Deduplicated by webhook-id, the deliveries are exactly the task's events, in order.
  expect(
    [...seen.values()].map((d) => ({ cursor: d.eventCursor, status: d.eventStatus })),
    `webhooks of ${task.externalTaskId}`,
  ).toEqual(expected);
  return deliveries.length - seen.size;
}

interface PointOptions {
  /** Kling answers creates this late (the task exists upstream at once); KIE answers everything this late. */
  klingCreateMs: number;
  kieMs: number;
  timing?: typeof TIMING;
}

/** Runs a point RUNS_PER_POINT times on one environment of its own. */
async function crashPoint(point: CrashPoint, opts: PointOptions): Promise<RunReport[]> {
  return atMostTwo(async () => {
    const env = await newEnvironment(point, opts.timing);
    try {
      env.sim.kling.setCreateLatencyMs(opts.klingCreateMs);
      env.sim.kie.setLatencyMs(opts.kieMs);
      const reports: RunReport[] = [];
      for (let run = 0; run < RUNS_PER_POINT; run++) reports.push(await crashRun(env, point, run));
      const summary = reports.map((r) => ({
        run: r.run,
        ms: r.ms,
        crashAfterMs: r.crashAfterMs,
        downMs: r.downMs,
        acknowledged: r.attempts.filter((a) => a.id).length,
        present: r.present.map(
          (t) =>
            `${t.externalTaskId.split('.').slice(-2).join('.')}: ${t.status}${t.error ? `/${t.error.code}` : ''}${adopted(t) ? ' (adopted)' : ''} [${sources(t).join(' > ')}] +${t.finishedMs} ms`,
        ),
        absent: r.absent.map((a) => a.externalTaskId.split('.').slice(-2).join('.')),
        klingCreates: r.klingCreates,
        kieCreates: r.kieCreates,
        unansweredCallbacks: r.unansweredCallbacks,
        redeliveries: r.redeliveries,
      }));
      if (process.env.CRASH_REPORT)
        console.log(`[crash] ${point} (${usePostgres ? 'postgres' : 'pglite'}): ${JSON.stringify(summary, null, 1)}`);
      return reports;
    } finally {
      await env.dispose();
    }
  });
}

const SUBMITS_IN_FLIGHT: PointOptions = { klingCreateMs: 300, kieMs: 300 };
const POINT_TIMEOUT_MS = 480_000;

describe.concurrent(`the API process SIGKILLed at each fail point (${RUNS_PER_POINT} runs each) or stopped with SIGTERM, on ${usePostgres ? 'Postgres' : 'file-backed PGlite'}`, () => {
  it(
    'create:before-commit — an unanswered create leaves no row and sends nothing upstream; tasks acknowledged before the crash all finish',
    async () => {
      // The tasks acknowledged by the previous incarnation must outlive two restarts before they end.
      const reports = await crashPoint('create:before-commit', {
        klingCreateMs: 0,
        kieMs: 0,
        timing: {
          kling: { processingAfterMs: 6000, succeedAfterMs: 11_000 },
          kie: { queuingAfterMs: 300, generatingAfterMs: 6000, completeAfterMs: 11_000 },
        },
      });
      for (const r of reports) {
        // The create that reached the fail point got no answer and left nothing behind: no row, and
        // (checked in the run) no upstream create, since Kling's count equals the Kling tasks we have.
        expect(r.absent.length, `run ${r.run}`).toBeGreaterThanOrEqual(1);
        for (const a of r.absent) {
          expect(a.id).toBeNull();
          expect(
            r.crashState.tasks.some((t) => t.externalTaskId === a.externalTaskId),
            `row of ${a.externalTaskId}`,
          ).toBe(false);
        }
        // The five tasks acknowledged before the crash were in flight when it hit, and all finished.
        const acknowledged = r.attempts.filter((a) => a.id);
        expect(acknowledged.length, `run ${r.run}`).toBeGreaterThanOrEqual(5);
        for (const a of acknowledged)
          expect(r.present.find((t) => t.id === a.id)?.status).toMatch(/^(SUCCEEDED|FAILED)$/);
      }
    },
    POINT_TIMEOUT_MS,
  );

  it(
    'submit:after-attempt-committed — an attempt that never left is looked up, then sent once (Kling), or ends SUBMISSION_UNCONFIRMED (KIE)',
    async () => {
      const reports = await crashPoint('submit:after-attempt-committed', SUBMITS_IN_FLIGHT);
      for (const r of reports) {
        expect(r.attempts.filter((a) => a.id).length, `run ${r.run}: acknowledged`).toBeGreaterThanOrEqual(1);
        // The dead process left an attempt committed (a PENDING task marked as being submitted).
        const marked = r.crashState.tasks.filter((t) => t.status === 'PENDING' && t.submitStartedAt !== null);
        expect(marked.length, `run ${r.run}: attempts committed at the crash`).toBeGreaterThanOrEqual(1);
        // Kling: all SUCCEEDED, with exactly one create each (checked per task in the run), none resent.
        const kling = r.present.filter((t) => t.provider === 'KLING');
        expect(kling.length, `run ${r.run}`).toBeGreaterThanOrEqual(1);
        expect(kling.every((t) => t.status === 'SUCCEEDED')).toBe(true);
        expect(r.klingCreates).toBe(kling.length);
      }
    },
    POINT_TIMEOUT_MS,
  );

  it(
    'submit:after-upstream-accepted — Kling tasks are adopted by external_task_id with one create each; KIE ends SUBMISSION_UNCONFIRMED and is never resent',
    async () => {
      // Kling answers its creates after 300 ms, KIE after 800 ms: when the first Kling answer kills the
      // process, every create is upstream already and none of their answers has been applied.
      const reports = await crashPoint('submit:after-upstream-accepted', { klingCreateMs: 300, kieMs: 800 });
      const all = reports.flatMap((r) => r.present);
      const adoptedKling = all.filter((t) => t.provider === 'KLING' && adopted(t));
      const unconfirmedKie = all.filter((t) => t.provider === 'KIE' && t.error?.code === 'SUBMISSION_UNCONFIRMED');
      expect(adoptedKling.length, 'Kling tasks adopted after the crash').toBeGreaterThanOrEqual(RUNS_PER_POINT);
      for (const t of adoptedKling) {
        expect(t.status).toBe('SUCCEEDED');
        expect(t.upstreamCreates).toBe(1);
      }
      expect(unconfirmedKie.length, 'KIE tasks ended SUBMISSION_UNCONFIRMED').toBeGreaterThanOrEqual(1);
      for (const r of reports) {
        // The dead process left Kling tasks PENDING with their attempt marked. Those Kling had
        // received (at least the one whose answer triggered the crash) were each adopted with that
        // single create; one whose request had not left yet (its attempt committed just before the
        // crash) was sent once after the restart.
        const marked = r.crashState.tasks.filter(
          (t) => t.provider === 'KLING' && t.status === 'PENDING' && t.submitStartedAt !== null,
        );
        const upstream = marked.filter((m) => r.klingCreatesAtCrash.get(m.id) === 1);
        expect(upstream.length, `run ${r.run}: accepted upstream, not applied`).toBeGreaterThanOrEqual(1);
        for (const m of marked) {
          const final = r.present.find((t) => uuidOf(t.id) === m.id)!;
          if (upstream.includes(m)) expect(adopted(final), sources(final).join(' > ')).toBe(true);
          expect(final.status).toBe('SUCCEEDED');
          expect(final.upstreamCreates).toBe(1);
        }
        // KIE accepted the unconfirmed ones: each is upstream at most once, none was sent again.
        expect(r.kieCreates, `run ${r.run}`).toBeLessThanOrEqual(r.present.filter((t) => t.provider === 'KIE').length);
      }
    },
    POINT_TIMEOUT_MS,
  );

  it(
    'callback:after-ack-queued — a callback whose acknowledgement died with the process is still acted on; every task finishes',
    async () => {
      const reports = await crashPoint('callback:after-ack-queued', SUBMITS_IN_FLIGHT);
      for (const r of reports) {
        // The provider saw a callback go unanswered: the process died after queueing its refresh,
        // which the dead process left committed, and the restarted one ran.
        expect(r.unansweredCallbacks, `run ${r.run}`).toBeGreaterThanOrEqual(1);
        expect(
          r.crashState.jobs.filter((j) => j.queue === 'refresh' && j.payload.source === 'CALLBACK').length,
          `run ${r.run}: queued refresh`,
        ).toBeGreaterThanOrEqual(1);
        expect(r.present.length, `run ${r.run}`).toBeGreaterThanOrEqual(1);
        expect(r.present.every((t) => TERMINAL.includes(t.status))).toBe(true);
      }
    },
    POINT_TIMEOUT_MS,
  );

  it(
    'refresh:after-provider-read — a provider read whose result was never applied is read again; every task finishes',
    async () => {
      const reports = await crashPoint('refresh:after-provider-read', SUBMITS_IN_FLIGHT);
      for (const r of reports) {
        // The dead process left the refresh job it was running, still leased to it.
        expect(
          r.crashState.jobs.filter((j) => j.queue === 'refresh' && j.lockedBy !== null).length,
          `run ${r.run}: leased refresh`,
        ).toBeGreaterThanOrEqual(1);
        expect(r.present.length, `run ${r.run}`).toBeGreaterThanOrEqual(1);
        expect(r.present.every((t) => TERMINAL.includes(t.status))).toBe(true);
        // The read that died unapplied was repeated: every Kling task got past SUBMITTED to SUCCEEDED.
        expect(r.present.filter((t) => t.provider === 'KLING').every((t) => t.status === 'SUCCEEDED')).toBe(true);
      }
    },
    POINT_TIMEOUT_MS,
  );

  it(
    'webhook:after-delivery — a delivery whose completion died with the process is redelivered with the same webhook-id; no event is lost',
    async () => {
      const reports = await crashPoint('webhook:after-delivery', SUBMITS_IN_FLIGHT);
      for (const r of reports) {
        expect(
          r.present.some((t) => r.attempts.find((a) => a.externalTaskId === t.externalTaskId)!.webhook),
          `run ${r.run}: webhook task`,
        ).toBe(true);
        expect(r.redeliveries, `run ${r.run}: redeliveries`).toBeGreaterThanOrEqual(1);
        // The dead process left the job of a delivery the receiver already had: it was sent again.
        const delivered = new Set(r.deliveredBeforeRestart.map((d) => d.webhookId));
        const pending = r.crashState.jobs.filter(
          (j) => j.queue === 'webhook' && delivered.has(`evt_${j.payload.eventId}`),
        );
        expect(pending.length, `run ${r.run}: delivered but unfinished webhook jobs`).toBeGreaterThanOrEqual(1);
      }
    },
    POINT_TIMEOUT_MS,
  );

  it(
    'graceful shutdown of the production command (node dist/main.js, the Dockerfile CMD) — SIGTERM stops taking work, finishes the in-flight submission, releases every job, closes sockets with 1001 and exits 0; the task completes after a restart',
    () =>
      atMostTwo(async () => {
        const env = await newEnvironment('graceful');
        const { sim } = env;
        try {
          const api = await startApi(env);
          // Kling answers the create only after 1.5 s: SIGTERM lands while the submission is in flight.
          sim.kling.setCreateLatencyMs(1500);
          const created = await create(api, env, {
            externalTaskId: 'graceful.kling',
            provider: 'KLING',
            webhook: false,
          });
          expect(created.id).not.toBeNull();
          const taskUuid = uuidOf(created.id!);
          await eventually(async () => sim.kling.createsFor(taskUuid) === 1, 5000, 'the create to reach Kling');

          // A live subscription, whose socket must be closed with 1001 Going Away.
          const closed: number[] = [];
          const ws = createClient({
            url: `${env.url.replace(/^http/, 'ws')}/graphql`,
            webSocketImpl: WebSocket,
            connectionParams: { authorization: `Bearer ${env.apiKey}` },
            retryAttempts: 0,
            on: { closed: (event) => void closed.push((event as { code: number }).code) },
          });
          const values: string[] = [];
          const subscription = new Promise<void>((resolve) => {
            ws.subscribe(
              { query: `subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, variables: { id: created.id } },
              {
                next: (v) => void values.push((v.data as { taskUpdated: { status: string } }).taskUpdated.status),
                error: () => resolve(),
                complete: () => resolve(),
              },
            );
          });
          await eventually(async () => values.length > 0, 5000, 'the subscription to deliver the current state');

          const signalledAt = Date.now();
          api.signal('SIGTERM');
          // Stops taking work: new connections are refused while the in-flight job is still finishing.
          await eventually(
            async () => {
              const res = await gql(api.url, env.apiKey, '{ __typename }', {}, 1000);
              return !res.ok && /ECONNREFUSED/.test(res.error);
            },
            1000,
            'the listener to close',
          );
          expect(api.alive, 'still finishing the in-flight submission when it stopped listening').toBe(true);
          const exit = await api.waitExit(10_000);
          const tookMs = Date.now() - signalledAt;
          env.children.delete(api);
          expect(exit, api.logTail()).toEqual({ code: 0, signal: null });
          expect(tookMs, 'exit within a few seconds').toBeLessThan(6000);
          await subscription;
          expect(closed).toContain(1001);
          await ws.dispose();
          sim.kling.setCreateLatencyMs(0);

          // No job is left leased to the stopped worker, so nothing waits for a lease to expire.
          const db = await openDatabase(env.database ? env.database.target : { kind: 'pglite', dataDir: env.dataDir });
          try {
            const leased = await db.db
              .select({ id: jobs.id, queue: jobs.queue, lockedBy: jobs.lockedBy })
              .from(jobs)
              .where(isNotNull(jobs.lockedBy));
            expect(leased).toEqual([]);
          } finally {
            await db.close();
          }

          const restarted = await startApi(env);
          const final = await waitForFinal(restarted, env, TASK_BY_ID, { id: created.id });
          expect(final.status).toBe('SUCCEEDED');
          // The in-flight submission was finished by the stopping process (its answer applied as an API event), once.
          expect(sources(final)[1]).toBe('SUBMITTED/API');
          expect(sim.kling.createsFor(taskUuid)).toBe(1);
          await stopApi(env, restarted);
        } finally {
          await env.dispose();
        }
      }),
    POINT_TIMEOUT_MS,
  );
});
