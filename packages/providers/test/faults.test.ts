import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DigitalHumanClient,
  KieClient,
  KlingClient,
  ProviderError,
  createHttpDispatcher,
  parseKieCallback,
  parseKlingCallback,
} from '../src/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { rejectionOf, startMediaServer, startReceiver, waitFor, type MediaServer, type Receiver } from './helpers.js';

let sim: Simulator;
let receiver: Receiver;
let dispatcher: Dispatcher;
let kling: KlingClient;
let kie: KieClient;
let dh: DigitalHumanClient;
let dhTaskId: string;

let media: MediaServer;
// URL inputs on a loopback media server (the simulators download them), set in beforeAll.
let klingInput: { image: string; soundFile: string };
let kieInput: { imageUrl: string; audioUrl: string; prompt: string };
let dhInput: { audioUrl: string; avatarUrl: string };

beforeAll(async () => {
  media = await startMediaServer();
  klingInput = { image: media.portraitUrl, soundFile: media.speechUrl };
  kieInput = { imageUrl: media.portraitUrl, audioUrl: media.speechUrl, prompt: 'talk' };
  dhInput = { audioUrl: media.speechUrl, avatarUrl: media.portraitUrl };
  sim = await startSimulator({
    kling: { timing: { processingAfterMs: 30, succeedAfterMs: 80 }, reorderHoldMs: 300 },
    kie: {
      timing: { queuingAfterMs: 5, generatingAfterMs: 10, completeAfterMs: 30 },
      rateLimit: { creates: 1000, windowMs: 10_000 },
      reorderHoldMs: 150,
    },
    digitalHuman: { timing: { submittedAfterMs: 5, queuedAfterMs: 10, inProgressAfterMs: 20, finishAfterMs: 40 } },
  });
  receiver = await startReceiver();
  dispatcher = createHttpDispatcher();
  kling = new KlingClient({ baseUrl: sim.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher, timeoutMs: 2000 });
  kie = new KieClient({
    apiKey: 'sandbox-kie-key',
    baseUrl: sim.url,
    uploadBaseUrl: sim.url,
    dispatcher,
    timeoutMs: 2000,
  });
  dh = new DigitalHumanClient({ baseUrl: sim.url, apiKey: 'sandbox-dh-key', dispatcher, timeoutMs: 2000 });
  dhTaskId = await dh.createGeneration(dhInput);
});
afterAll(async () => {
  await sim.stop();
  await receiver.close();
  await media.close();
  await dispatcher.close();
});

/** The three providers behind one interface, for the faults every simulator shares. */
const providers = [
  {
    name: 'kling',
    controls: () => sim.kling,
    create: () => kling.createAvatarVideo(klingInput),
    query: () => kling.listAvatarVideos({ pageSize: 1 }),
    rateLimitCode: '1302',
    serverCode: { 500: '5000', 503: '5001' } as Record<number, string>,
  },
  {
    name: 'kie',
    controls: () => sim.kie,
    create: () => kie.createTask(kieInput),
    query: () => kie.uploadBase64('aGVsbG8=', 'p', 'hello.txt'),
    rateLimitCode: '429',
    serverCode: { 500: '500', 503: '455' } as Record<number, string>,
  },
  {
    name: 'digital_human',
    controls: () => sim.digitalHuman,
    create: () => dh.createGeneration(dhInput),
    query: () => dh.getTask(dhTaskId),
    rateLimitCode: 'rate_limit_exceeded',
    serverCode: { 500: 'server_error', 503: 'service_unavailable' } as Record<number, string>,
  },
] as const;

describe.each(providers)('HTTP fault injection: $name', (p) => {
  it('failNext 429 with Retry-After: rate_limit, retryable, retryAfterMs; the create has no effect', async () => {
    const before = p.controls().createCount();
    p.controls().failNext({ status: 429, retryAfter: '3' });
    const err = await rejectionOf(p.create());
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({
      provider: p.name,
      code: p.rateLimitCode,
      kind: 'rate_limit',
      retryable: true,
      httpStatus: 429,
      retryAfterMs: 3000,
    });
    expect(p.controls().createCount()).toBe(before);
    await expect(p.create()).resolves.toBeDefined();
  });

  it('failNext 5xx with count 2: exactly the next two creates fail (upstream, retryable), the third succeeds', async () => {
    p.controls().failNext({ status: 500, count: 1 });
    p.controls().failNext({ status: 503, count: 1 });
    await expect(p.create()).rejects.toMatchObject({
      kind: 'upstream',
      retryable: true,
      httpStatus: 500,
      code: p.serverCode[500],
    });
    await expect(p.create()).rejects.toMatchObject({
      kind: 'upstream',
      retryable: true,
      httpStatus: 503,
      code: p.serverCode[503],
    });
    await expect(p.create()).resolves.toBeDefined();
  });

  it("scope 'create' leaves other requests alone; scope 'any' hits them too", async () => {
    p.controls().failNext({ status: 502 });
    await expect(p.query()).resolves.toBeDefined();
    await expect(p.create()).rejects.toMatchObject({ httpStatus: 502, retryable: true });
    p.controls().failNext({ status: 502, scope: 'any', count: 1 });
    await expect(p.query()).rejects.toMatchObject({ httpStatus: 502, retryable: true });
    await expect(p.query()).resolves.toBeDefined();
  });

  it('latency past the client timeout is a retryable timeout, yet the create took effect; clearFaults removes it', async () => {
    const before = p.controls().createCount();
    p.controls().setLatencyMs(300);
    try {
      const impatient =
        p.name === 'kling'
          ? new KlingClient({
              baseUrl: sim.url,
              auth: { apiKey: 'sandbox-kling-key' },
              dispatcher,
              timeoutMs: 80,
            }).createAvatarVideo(klingInput)
          : p.name === 'kie'
            ? new KieClient({ apiKey: 'sandbox-kie-key', baseUrl: sim.url, dispatcher, timeoutMs: 80 }).createTask(
                kieInput,
              )
            : new DigitalHumanClient({
                baseUrl: sim.url,
                apiKey: 'sandbox-dh-key',
                dispatcher,
                timeoutMs: 80,
              }).createGeneration(dhInput);
      await expect(impatient).rejects.toMatchObject({ kind: 'timeout', retryable: true, provider: p.name });
      // The client gave up at 80 ms; on a loaded machine the simulator may still be reading the
      // request then. The create lands anyway (and only once).
      await waitFor(() => (p.controls().createCount() > before ? true : undefined), 2000);
      expect(p.controls().createCount()).toBe(before + 1);
    } finally {
      p.controls().clearFaults();
    }
    const started = Date.now();
    await p.create();
    expect(Date.now() - started).toBeLessThan(250);
    expect(p.controls().createCount()).toBe(before + 2);
  });
});

const klingBodies = (taskId: string) =>
  receiver.bodies.filter((b) => (b as { task_id?: string }).task_id === taskId).map((b) => parseKlingCallback(b));
const kieBodies = (taskId: string) =>
  receiver.bodies
    .filter((b) => (b as { data?: { taskId?: string } }).data?.taskId === taskId)
    .map((b) => parseKieCallback(b));
const settle = (ms = 120) => new Promise((r) => setTimeout(r, ms));

describe('callback fault injection: Kling (one callback per status change)', () => {
  it('drop {count: 1}: the first callback is lost and recorded as dropped; the rest arrive', async () => {
    sim.kling.setCallbackFaults({ drop: { count: 1 } });
    const t = await kling.createAvatarVideo({ ...klingInput, callbackUrl: receiver.url });
    await waitFor(() => (klingBodies(t.taskId).length >= 2 ? true : undefined));
    await settle();
    expect(klingBodies(t.taskId).map((x) => x.rawStatus)).toEqual(['processing', 'succeed']);
    const record = sim.kling.sentCallbacks().filter((c) => (c.body as { task_id: string }).task_id === t.taskId);
    expect(record.map((c) => c.status)).toEqual(['dropped', 200, 200]);
  });

  it('duplicate {count: 1}: the first callback arrives twice', async () => {
    sim.kling.setCallbackFaults({ duplicate: { count: 1 } });
    const t = await kling.createAvatarVideo({ ...klingInput, callbackUrl: receiver.url });
    await waitFor(() => (klingBodies(t.taskId).length >= 4 ? true : undefined));
    await settle();
    expect(klingBodies(t.taskId).map((x) => x.rawStatus)).toEqual(['submitted', 'submitted', 'processing', 'succeed']);
    expect(
      sim.kling
        .sentCallbacks()
        .filter((c) => c.fault === 'duplicate' && (c.body as { task_id: string }).task_id === t.taskId),
    ).toHaveLength(1);
  });

  it('reorder {count: 1}: submitted is held back and arrives after processing', async () => {
    sim.kling.setCallbackFaults({ reorder: { count: 1 } });
    const t = await kling.createAvatarVideo({ ...klingInput, callbackUrl: receiver.url });
    await waitFor(() => (klingBodies(t.taskId).length >= 3 ? true : undefined));
    await settle();
    const got = klingBodies(t.taskId);
    expect(got.map((x) => x.rawStatus)).toEqual(['processing', 'submitted', 'succeed']);
    // updated_at still tells the receiver which one is newer.
    expect(got[1]!.updatedAt!.getTime()).toBeLessThan(got[0]!.updatedAt!.getTime());
  });

  it('probabilistic faults are reproducible with the same seed', async () => {
    const runOnce = async () => {
      const s = await startSimulator({ kling: { seed: 42, timing: { processingAfterMs: 5, succeedAfterMs: 10 } } });
      try {
        s.kling.setCallbackFaults({ drop: { probability: 0.5 } });
        const c = new KlingClient({ baseUrl: s.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher });
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          const t = await c.createAvatarVideo({ ...klingInput, callbackUrl: receiver.url });
          ids.push(t.taskId);
          await waitFor(async () =>
            (await c.getAvatarVideo({ taskId: t.taskId })).status === 'SUCCEEDED' ? true : undefined,
          );
        }
        await waitFor(() => (s.kling.sentCallbacks().length >= 12 ? true : undefined));
        // Deliveries to different tasks complete in any order: read the outcome per (task, status).
        const records = s.kling.sentCallbacks();
        return ids
          .flatMap((id) =>
            ['submitted', 'processing', 'succeed'].map((status) => {
              const r = records.find(
                (x) =>
                  (x.body as { task_id: string; task_status: string }).task_id === id &&
                  (x.body as { task_status: string }).task_status === status,
              );
              return r?.status === 'dropped' ? 'D' : 'S';
            }),
          )
          .join('');
      } finally {
        await s.stop();
      }
    };
    const a = await runOnce();
    const b = await runOnce();
    expect(a).toHaveLength(12);
    expect(a).toContain('D');
    expect(a).toContain('S');
    expect(b).toBe(a);
  });

  it('clearFaults restores clean delivery', async () => {
    sim.kling.setCallbackFaults({ drop: { probability: 1 } });
    sim.kling.clearFaults();
    const t = await kling.createAvatarVideo({ ...klingInput, callbackUrl: receiver.url });
    await waitFor(() => (klingBodies(t.taskId).length >= 3 ? true : undefined));
    expect(klingBodies(t.taskId).map((x) => x.rawStatus)).toEqual(['submitted', 'processing', 'succeed']);
  });
});

describe('callback fault injection: KIE (one terminal callback)', () => {
  it('drop: the only callback is lost, the task is still readable via recordInfo', async () => {
    sim.kie.setCallbackFaults({ drop: { count: 1 } });
    const taskId = await kie.createTask({ ...kieInput, callBackUrl: receiver.url });
    await waitFor(async () => ((await kie.recordInfo(taskId)).status === 'SUCCEEDED' ? true : undefined));
    await settle();
    expect(kieBodies(taskId)).toEqual([]);
    expect(
      sim.kie
        .sentCallbacks()
        .filter((c) => (c.body as { data: { taskId: string } }).data.taskId === taskId)
        .map((c) => c.status),
    ).toEqual(['dropped']);
  });

  it('duplicate: the terminal callback arrives twice, identical', async () => {
    sim.kie.setCallbackFaults({ duplicate: { count: 1 } });
    const taskId = await kie.createTask({ ...kieInput, callBackUrl: receiver.url });
    await waitFor(() => (kieBodies(taskId).length >= 2 ? true : undefined));
    await settle();
    const got = kieBodies(taskId);
    expect(got).toHaveLength(2);
    expect(got[0]).toEqual(got[1]);
  });

  it("reorder: a held callback goes out after the next task's callback", async () => {
    sim.kie.setCallbackFaults({ reorder: { count: 1 } });
    const first = await kie.createTask({ ...kieInput, callBackUrl: receiver.url });
    await waitFor(async () => ((await kie.recordInfo(first)).status === 'SUCCEEDED' ? true : undefined));
    const second = await kie.createTask({ ...kieInput, callBackUrl: receiver.url });
    await waitFor(() => (kieBodies(first).length === 1 && kieBodies(second).length === 1 ? true : undefined));
    const order = receiver.bodies
      .map((b) => (b as { data?: { taskId?: string } }).data?.taskId)
      .filter((id) => id === first || id === second);
    expect(order).toEqual([second, first]);
  });

  it('reorder with no later callback: the held one still goes out after the hold time', async () => {
    sim.kie.setCallbackFaults({ reorder: { count: 1 } });
    const taskId = await kie.createTask({ ...kieInput, callBackUrl: receiver.url });
    // The simulator records a delivery once the receiver has answered.
    const record = await waitFor(
      () => sim.kie.sentCallbacks().find((c) => (c.body as { data: { taskId: string } }).data.taskId === taskId),
      2000,
    );
    expect(record).toMatchObject({ fault: 'reordered', status: 200 });
    expect(kieBodies(taskId).map((t) => t.status)).toEqual(['SUCCEEDED']);
  });
});
