import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from '../support/ids.js';
import { SANDBOX_KLING_API_KEY } from '../../src/config.js';
import { CREATE_AVATAR, eventually, FAST_SIM_TIMING, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';
import {
  KIE_CREATE_PATH,
  KLING_AVATAR_PATH,
  startRecordingProxy,
  type ProxiedRequest,
  type RecordingProxy,
} from '../support/proxy.js';
import {
  eventStatuses,
  PROVIDERS,
  sampleMax,
  simGet,
  sleep,
  TASK_FIELDS,
  ENGINE_ONLY,
  NO_API_RATE_LIMIT,
} from './resilience-support.js';

/*
 * Provider faults: 429 with Retry-After, Kling 1303 / 1102, 5xx bursts and the circuit breaker,
 * lost create responses (timeouts), and the per-provider limits (Kling slots, KIE creates per 10 s).
 * The simulator counts requests but keeps no times, so the main stack talks to it through a
 * recording proxy (KLING_BASE_URL / KIE_BASE_URL) that timestamps every request.
 */

const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 400;

async function createTask(stack: Stack, input: Record<string, unknown>): Promise<{ id: string; uuid: string }> {
  const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, ...input } });
  const created = res.data?.createAvatarVideo;
  expect(created?.__typename, JSON.stringify(res)).toBe('Task');
  return { id: created.id, uuid: uuidOf(created.id) };
}

const kling = (input: Record<string, unknown> = {}) => ({ provider: 'KLING', ...input });
const kie = (input: Record<string, unknown> = {}) => ({ provider: 'KIE', prompt: 'a calm newsreader', ...input });

/** Kling creates that carried this task's id (our UUID is Kling's external_task_id). */
const klingCreatesOf = (proxy: RecordingProxy, uuid: string) =>
  proxy.creates(KLING_AVATAR_PATH).filter((r) => r.body?.external_task_id === uuid);

const gaps = (reqs: ProxiedRequest[]) => reqs.slice(1).map((r, i) => r.at - reqs[i]!.at);

/** The least delay the engine's backoff can pick before retry number `attempt` (jitter is the upper half). */
const backoffFloor = (attempt: number) => Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1)) / 2;

async function circuit(stack: Stack, provider: string): Promise<string> {
  const res = await stack.gql(PROVIDERS);
  return res.data!.providers.find((p: { provider: string }) => p.provider === provider).circuit;
}

describe('rate limits, Kling business codes and 5xx (through a recording proxy)', () => {
  let stack: Stack;
  let proxy: RecordingProxy;
  beforeAll(async () => {
    proxy = await startRecordingProxy();
    stack = await startStack({
      // 1102 below would otherwise hold new Kling tasks back for a minute (ProviderRejected).
      // Attempts enough for a 1303 to be retried for as long as the holder below keeps Kling's only slot.
      engine: { retryBaseMs: RETRY_BASE_MS, retryMaxMs: RETRY_MAX_MS, accountRefusalMs: 0, submitAttempts: 40 },
      env: {
        ...NO_API_RATE_LIMIT,
        ...ENGINE_ONLY,
        KLING_BASE_URL: proxy.url,
        KIE_BASE_URL: proxy.url,
        KLING_CONCURRENCY: '2',
      },
    });
    proxy.setTarget(stack.sim.url);
  });
  afterAll(async () => {
    await stack?.stop();
    await proxy?.stop();
  });

  it('Kling 429 with Retry-After: the second create comes no sooner than Retry-After, and the task succeeds with one accepted create', async () => {
    stack.sim.kling.failNext({ status: 429, retryAfter: '1', count: 1 });
    const before = stack.sim.kling.createCount();
    const { id, uuid } = await createTask(stack, kling());
    const final = await stack.waitForFinal(id, TASK_FIELDS);
    expect(final.status).toBe('SUCCEEDED');

    const creates = klingCreatesOf(proxy, uuid);
    expect(creates.map((c) => [c.status, c.response?.code])).toEqual([
      [429, 1302],
      [200, 0],
    ]);
    expect(gaps(creates)[0]).toBeGreaterThanOrEqual(1000);
    expect(stack.sim.kling.createCount() - before).toBe(1);
    // (The simulator's createsFor() does not count requests eaten by failNext(): the proxy log is the record.)
    expect(stack.sim.kling.createsFor(uuid)).toBe(1);
  });

  it('KIE 429 with Retry-After: the second createTask comes no sooner than Retry-After, and the task succeeds with one accepted create', async () => {
    const since = Date.now();
    stack.sim.kie.failNext({ status: 429, retryAfter: '1', count: 1 });
    const before = stack.sim.kie.createCount();
    const { id } = await createTask(stack, kie());
    const final = await stack.waitForFinal(id, TASK_FIELDS);
    expect(final.status).toBe('SUCCEEDED');

    const creates = proxy.creates(KIE_CREATE_PATH, since);
    expect(creates.map((c) => [c.status, c.response?.code])).toEqual([
      [429, 429],
      [200, 200],
    ]);
    expect(gaps(creates)[0]).toBeGreaterThanOrEqual(1000);
    expect(stack.sim.kie.createCount() - before).toBe(1);
    expect(final.providerTaskId).toBe(creates[1]!.response.data.taskId);
  });

  it('Kling 1303 (parallel-task limit): retried with growing backoff until a slot frees, then succeeds', async () => {
    stack.sim.kling.setConcurrency(1);
    // The holder keeps the only slot for 3 s, so the second task's first create is refused however
    // slowly a loaded machine gets to it; the second task itself runs at the usual pace.
    stack.sim.kling.setTiming({ processingAfterMs: 200, succeedAfterMs: 3000 });
    try {
      const holder = await createTask(stack, kling());
      await eventually(async () => stack.sim.kling.activeTasks() === 1, 5000, 'the holder to take the only Kling slot');
      stack.sim.kling.setTiming(FAST_SIM_TIMING);
      const waiting = await createTask(stack, kling());
      const [a, b] = await Promise.all([
        stack.waitForFinal(holder.id, TASK_FIELDS),
        stack.waitForFinal(waiting.id, TASK_FIELDS),
      ]);
      expect([a.status, b.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);

      const creates = klingCreatesOf(proxy, waiting.uuid);
      const refused = creates.slice(0, -1);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused.every((c) => c.status === 429 && c.response?.code === 1303)).toBe(true);
      expect(creates.at(-1)!.status).toBe(200);
      expect(stack.sim.kling.createsFor(waiting.uuid)).toBe(creates.length);
      // Backoff: each retry waited at least the floor of its exponential step.
      gaps(creates).forEach((gap, i) =>
        expect(gap, `gap before retry ${i + 1}`).toBeGreaterThanOrEqual(backoffFloor(i + 1)),
      );
      // The accepted create was handled only once the holder had ended at Kling.
      const holderAtKling = (await simGet(stack, `${KLING_AVATAR_PATH}/${holder.uuid}`, SANDBOX_KLING_API_KEY)).data;
      expect(holderAtKling.task_status).toBe('succeed');
      expect(creates.at(-1)!.answeredAt!).toBeGreaterThanOrEqual(holderAtKling.updated_at);
    } finally {
      stack.sim.kling.setConcurrency(Infinity);
      stack.sim.kling.setTiming(FAST_SIM_TIMING);
    }
  });

  it('Kling 1102 (resource pack exhausted) is not retried: one create upstream, the task FAILED with providerCode 1102', async () => {
    stack.sim.kling.setNextCreateError({ httpStatus: 429, code: 1102, message: 'resource pack exhausted' });
    const { id, uuid } = await createTask(stack, kling());
    const final = await stack.waitForFinal(id, TASK_FIELDS);
    expect(final.status).toBe('FAILED');
    expect(final.error).toMatchObject({ code: 'PROVIDER_QUOTA', providerCode: '1102' });
    await sleep(600); // longer than any backoff step: a retry would have shown up
    expect(stack.sim.kling.createsFor(uuid)).toBe(1);
    expect(klingCreatesOf(proxy, uuid)).toHaveLength(1);
    expect(eventStatuses(final)).toEqual(['PENDING', 'FAILED']);
  });

  it('Clipwire’s own Kling limit (KLING_CONCURRENCY=2): 5 tasks, never more than 2 running at Kling, all succeed', async () => {
    stack.sim.kling.setConcurrency(2); // Kling would answer 1303 if Clipwire went over
    const sampler = sampleMax(() => stack.sim.kling.activeTasks());
    let maxInFlight = 0;
    let polling = true;
    const providerErrors: string[] = [];
    const watch = (async () => {
      while (polling) {
        const res = await stack.gql(PROVIDERS);
        if (!res.data) {
          providerErrors.push(JSON.stringify(res.errors));
          continue;
        }
        const k = res.data.providers.find((p: { provider: string }) => p.provider === 'KLING');
        expect(k.limit).toBe(2);
        maxInFlight = Math.max(maxInFlight, k.inFlight);
        await sleep(20);
      }
    })();
    try {
      const created = await Promise.all(Array.from({ length: 5 }, () => createTask(stack, kling())));
      const finals = await Promise.all(created.map((t) => stack.waitForFinal(t.id, TASK_FIELDS, 20_000)));
      expect(finals.map((f) => f.status)).toEqual(Array(5).fill('SUCCEEDED'));
      const maxActive = sampler.stop();
      expect(maxActive).toBeLessThanOrEqual(2);
      expect(maxActive).toBe(2); // the limit is used, not just respected
      const creates = created.flatMap((t) => klingCreatesOf(proxy, t.uuid));
      expect(creates.filter((c) => c.response?.code === 1303)).toEqual([]);
      expect(creates).toHaveLength(5);
    } finally {
      polling = false;
      await watch;
      sampler.stop();
      stack.sim.kling.setConcurrency(Infinity);
    }
    expect(providerErrors).toEqual([]);
    expect(maxInFlight).toBeLessThanOrEqual(2);
  });

  it('a burst of three 5xx on create (Kling and KIE) is retried with backoff; each task succeeds with one accepted create', async () => {
    const since = Date.now();
    stack.sim.kling.failNext({ status: 503, count: 3 });
    stack.sim.kie.failNext({ status: 500, count: 3 });
    const kieBefore = stack.sim.kie.createCount();
    const k = await createTask(stack, kling());
    const c = await createTask(stack, kie());
    const [kf, cf] = await Promise.all([stack.waitForFinal(k.id, TASK_FIELDS), stack.waitForFinal(c.id, TASK_FIELDS)]);
    expect([kf.status, cf.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);

    const kc = klingCreatesOf(proxy, k.uuid);
    expect(kc.map((r) => [r.status, r.response?.code])).toEqual([
      [503, 5001],
      [503, 5001],
      [503, 5001],
      [200, 0],
    ]);
    gaps(kc).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(backoffFloor(i + 1)));
    const cc = proxy.creates(KIE_CREATE_PATH, since);
    expect(cc.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    gaps(cc).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(backoffFloor(i + 1)));
    expect(stack.sim.kie.createCount() - kieBefore).toBe(1);
    // Three failures are below the breaker's volume threshold (10 calls): it never opened.
    expect(await circuit(stack, 'KLING')).toBe('CLOSED');
    expect(await circuit(stack, 'KIE')).toBe('CLOSED');
  });

  it('KIE 20 creates per 10 s: 25 tasks at once are paced by Clipwire (no burst over the limit), all succeed with one create each', async () => {
    const since = Date.now();
    const before = stack.sim.kie.createCount();
    const created = await Promise.all(Array.from({ length: 25 }, () => createTask(stack, kie())));
    const finals = await Promise.all(created.map((t) => stack.waitForFinal(t.id, TASK_FIELDS, 30_000)));
    expect(finals.map((f) => (f.status === 'SUCCEEDED' ? f.status : `${f.status} ${JSON.stringify(f.error)}`))).toEqual(
      Array(25).fill('SUCCEEDED'),
    );
    expect(stack.sim.kie.createCount() - before).toBe(25);
    expect(new Set(finals.map((f) => f.providerTaskId)).size).toBe(25);

    const creates = proxy.creates(KIE_CREATE_PATH, since);
    const accepted = creates.filter((c) => c.status === 200);
    const refused = creates.filter((c) => c.status !== 200);
    expect(accepted).toHaveLength(25);
    // Any refusal can only be the simulator's rate limit at the window's edge, and it was retried.
    expect(refused.every((c) => c.status === 429)).toBe(true);
    if (refused.length > 0)
      console.warn(`KIE answered 429 to ${refused.length} create(s) at the window edge; they were retried`);
    // Clipwire held the rest back: at most 20 creates went out in the first 9 s…
    const first = creates[0]!.at;
    expect(creates.filter((c) => c.at < first + 9000).length).toBeLessThanOrEqual(20);
    // …and the accepted ones are spread over more than one 10 s window.
    expect(accepted[20]!.at - accepted[0]!.at).toBeGreaterThanOrEqual(10_000 - 50);
  }, 45_000);
});

describe('lost create responses (PROVIDER_TIMEOUT_MS=500, 30 s of simulated latency) and the circuit breaker (reset after 1 s)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { ...NO_API_RATE_LIMIT, ...ENGINE_ONLY, PROVIDER_TIMEOUT_MS: '500' },
      breaker: { resetTimeoutMs: 1000, volumeThreshold: 5, errorThresholdPercentage: 50 },
    });
  });
  afterAll(() => stack?.stop());

  it('Kling: the create times out, the task is found again by external_task_id and succeeds with exactly one create upstream', async () => {
    const started = Date.now();
    // Kling creates the task, then its answer takes 30 s: lost to our 500 ms timeout.
    stack.sim.kling.setCreateLatencyMs(30_000);
    try {
      const { id, uuid } = await createTask(stack, kling());
      const final = await stack.waitForFinal(id, TASK_FIELDS);
      expect(final.status).toBe('SUCCEEDED');
      expect(final.videos.length).toBeGreaterThan(0);
      expect(stack.sim.kling.createsFor(uuid)).toBe(1);
      expect(stack.sim.kling.createCount()).toBe(1);
      // Adopted by a lookup (source POLL), never resent.
      expect(final.events.edges[1].node.source).toBe('POLL');
    } finally {
      stack.sim.kling.clearFaults();
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('KIE: the create times out; KIE cannot be asked about it, so the task FAILS with SUBMISSION_UNCONFIRMED and is never resent', async () => {
    const started = Date.now();
    stack.sim.kie.setLatencyMs(30_000);
    try {
      const before = stack.sim.kie.createCount();
      const { id } = await createTask(stack, kie());
      const final = await stack.waitForFinal(id, TASK_FIELDS);
      expect(final.status).toBe('FAILED');
      expect(final.error.code).toBe('SUBMISSION_UNCONFIRMED');
      expect(stack.sim.kie.createCount() - before).toBe(1); // KIE did create it: the response was lost
      await sleep(800); // the job that failed it is done: nothing else may send it
      expect(stack.sim.kie.createCount() - before).toBe(1);
    } finally {
      stack.sim.kie.clearFaults();
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a long 5xx burst opens Kling’s circuit (KIE’s stays closed); it closes after recovery and the task succeeds with one create', async () => {
    expect(await circuit(stack, 'KLING')).toBe('CLOSED');
    const requestsBefore = stack.sim.kling.requestCount();
    const createsBefore = stack.sim.kling.createCount();
    stack.sim.kling.failNext({ status: 500, count: 1000, scope: 'any' });
    const { id, uuid } = await createTask(stack, kling());
    await eventually(async () => (await circuit(stack, 'KLING')) === 'OPEN', 10_000, 'Kling’s circuit to open');
    expect(await circuit(stack, 'KIE')).toBe('CLOSED');
    // Only this task talks to Kling now: every request since was one of its failed creates.
    const attemptsWhenOpen = stack.sim.kling.requestCount();
    expect(attemptsWhenOpen - requestsBefore).toBeGreaterThanOrEqual(3);
    expect(stack.sim.kling.createCount()).toBe(createsBefore);
    // While open, nothing reaches Kling.
    await sleep(800);
    expect(stack.sim.kling.requestCount()).toBe(attemptsWhenOpen);
    const task = (await stack.gql(`query ($id: ID!) { task(id: $id) { status } }`, { id })).data!.task;
    expect(task.status).toBe('PENDING');

    stack.sim.kling.clearFaults(); // Kling recovers
    await eventually(async () => (await circuit(stack, 'KLING')) === 'HALF_OPEN', 5000, 'the trial window');
    const final = await stack.waitForFinal(id, TASK_FIELDS, 15_000);
    expect(final.status).toBe('SUCCEEDED');
    expect(await circuit(stack, 'KLING')).toBe('CLOSED');
    expect(stack.sim.kling.createCount()).toBe(createsBefore + 1);
    expect(stack.sim.kling.createsFor(uuid)).toBe(1); // the trial create; the failed ones never reached the handler
  }, 30_000);
});

describe('a Kling create that lands after Clipwire decided to resend it (PROVIDER_TIMEOUT_MS=500: 6 s grace)', () => {
  let stack: Stack;
  let proxy: RecordingProxy;
  beforeAll(async () => {
    proxy = await startRecordingProxy();
    stack = await startStack({
      env: { ...NO_API_RATE_LIMIT, ...ENGINE_ONLY, PROVIDER_TIMEOUT_MS: '500', KLING_BASE_URL: proxy.url },
    });
    proxy.setTarget(stack.sim.url);
  });
  afterAll(async () => {
    await stack?.stop();
    await proxy?.stop();
  });

  it('the resend is refused as a duplicate, the late task is adopted, and Kling holds one task', async () => {
    const grace = 2 * 500 + 5000; // server/compose.ts: unconfirmedGraceMs = 2 × PROVIDER_TIMEOUT_MS + 5 s
    // The first create of a task is held on the way (Clipwire times out, looks the task up and finds
    // nothing); it lands when the resend arrives, just before the resend itself.
    const heldFirst = new Map<string, () => void>();
    proxy.setGate((r) => {
      if (r.method !== 'POST' || r.path !== KLING_AVATAR_PATH) return undefined;
      const earlier = klingCreatesOf(proxy, r.body?.external_task_id).filter((c) => c !== r);
      if (earlier.length === 0) return new Promise<void>((release) => heldFirst.set(r.body.external_task_id, release));
      heldFirst.get(r.body.external_task_id)?.();
      return eventually(async () => earlier[0]!.status !== undefined, 5000, 'the late create to land').then(() => {});
    });
    try {
      const before = stack.sim.kling.createCount();
      const { id, uuid } = await createTask(stack, kling());
      const final = await stack.waitForFinal(id, TASK_FIELDS, 20_000);
      expect(final.status).toBe('SUCCEEDED');

      const creates = klingCreatesOf(proxy, uuid);
      // The first reached Kling late and made the task; the resend, decided once the grace was over,
      // was refused as a duplicate and created nothing.
      expect(creates.map((c) => [c.status, c.response?.code === 0 ? 'ok' : c.response?.message])).toEqual([
        [200, 'ok'],
        [400, expect.stringMatching(/external_task_id already exists/)],
      ]);
      expect(creates[1]!.at - creates[0]!.at).toBeGreaterThanOrEqual(grace - 100);
      expect(stack.sim.kling.createCount() - before).toBe(1);
      // In between, Clipwire looked the task up rather than resend at once.
      const lookups = proxy.log.filter(
        (r) => r.method === 'GET' && r.path.endsWith(`/${uuid}`) && r.at < creates[1]!.at,
      );
      expect(lookups.length).toBeGreaterThanOrEqual(2);
      // Adopted from Kling's answer to a lookup (source POLL), not from the refused resend.
      expect(final.events.edges[1].node).toMatchObject({ status: 'SUBMITTED', source: 'POLL' });
      expect(final.providerTaskId).toBe(creates[0]!.response.data.task_id);
    } finally {
      proxy.setGate(null);
    }
  }, 30_000);
});
