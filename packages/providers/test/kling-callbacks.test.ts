import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KlingClient, ProviderError, createHttpDispatcher, parseKlingCallback } from '../src/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { startMediaServer, startReceiver, waitFor, type MediaServer, type Receiver } from './helpers.js';

let sim: Simulator;
let receiver: Receiver;
let dispatcher: Dispatcher;
let client: KlingClient;
let media: MediaServer;
/** URL inputs on a loopback media server: the simulator downloads them. */
let input: { image: string; soundFile: string };

beforeAll(async () => {
  media = await startMediaServer();
  input = { image: media.portraitUrl, soundFile: media.speechUrl };
  sim = await startSimulator({
    kling: { timing: { processingAfterMs: 100, succeedAfterMs: 250 }, failPromptContains: '#fail' },
  });
  receiver = await startReceiver();
  dispatcher = createHttpDispatcher();
  client = new KlingClient({ baseUrl: sim.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher });
});
afterAll(async () => {
  await sim.stop();
  await receiver.close();
  await media.close();
  await dispatcher.close();
});

const bodiesFor = (taskId: string) => receiver.bodies.filter((b) => (b as { task_id?: string }).task_id === taskId);

describe('Kling callbacks', () => {
  it('POSTs submitted, processing and succeed bodies in Kling shape, which parseKlingCallback parses', async () => {
    const created = await client.createAvatarVideo({ ...input, callbackUrl: receiver.url, externalTaskId: 'cb-1' });
    const bodies = await waitFor(() => {
      const b = bodiesFor(created.taskId);
      return b.length >= 3 ? b : undefined;
    });
    expect(bodies.map((b) => (b as { task_status: string }).task_status)).toEqual([
      'submitted',
      'processing',
      'succeed',
    ]);

    const last = bodies[2] as Record<string, unknown>;
    expect(Object.keys(last).sort()).toEqual(
      [
        'created_at',
        'final_unit_deduction',
        'task_id',
        'task_info',
        'task_result',
        'task_status',
        'task_status_msg',
        'updated_at',
        'watermark_info',
      ].sort(),
    );
    expect(last['task_info']).toEqual({ external_task_id: 'cb-1' });
    expect(last['task_result']).toMatchObject({
      // As long as its sound.
      videos: [{ id: expect.any(String), url: expect.stringMatching(/-\d+ms\.mp4$/), duration: expect.any(String) }],
    });

    const parsed = bodies.map((b) => parseKlingCallback(b));
    expect(parsed.map((t) => t.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(parsed.every((t) => t.taskId === created.taskId && t.externalTaskId === 'cb-1')).toBe(true);
    // updated_at moves forward on each transition, so receivers can drop stale ones.
    const times = parsed.map((t) => t.updatedAt!.getTime());
    expect(times[1]).toBeGreaterThan(times[0]!);
    expect(times[2]).toBeGreaterThan(times[1]!);
    expect(parsed[2]!.videos[0]!.url.startsWith(sim.url)).toBe(true);
    expect(receiver.headers.every((h) => h['content-type'] === 'application/json')).toBe(true);

    // The simulator records a delivery once the receiver has answered, a moment after the body arrived.
    const record = await waitFor(() => {
      const r = sim.kling.sentCallbacks().filter((c) => (c.body as { task_id: string }).task_id === created.taskId);
      return r.length >= 3 ? r : undefined;
    });
    expect(record.map((c) => c.status)).toEqual([200, 200, 200]);
    expect(record.every((c) => c.url === receiver.url)).toBe(true);
  });

  it('a failing task ends with a failed callback carrying task_status_msg', async () => {
    const created = await client.createAvatarVideo({ ...input, prompt: 'wave #fail', callbackUrl: receiver.url });
    const last = await waitFor(() =>
      bodiesFor(created.taskId).find((b) => (b as { task_status: string }).task_status === 'failed'),
    );
    const task = parseKlingCallback(last);
    expect(task.status).toBe('FAILED');
    expect(task.statusMessage).toMatch(/.+/);
  });

  it('an unreachable callback_url is recorded as an error, not thrown, and the task still succeeds', async () => {
    const dead = 'http://127.0.0.1:1/hook';
    const created = await client.createAvatarVideo({ ...input, callbackUrl: dead });
    const records = await waitFor(() => {
      const r = sim.kling.sentCallbacks().filter((c) => c.url === dead);
      return r.length >= 3 ? r : undefined;
    });
    expect(records.map((r) => r.status)).toEqual(['error', 'error', 'error']);
    expect((await client.getAvatarVideo({ taskId: created.taskId })).status).toBe('SUCCEEDED');
  });

  it('with callbacks disabled no callback is sent', async () => {
    sim.kling.setCallbacksEnabled(false);
    try {
      const created = await client.createAvatarVideo({ ...input, callbackUrl: receiver.url });
      await waitFor(async () =>
        (await client.getAvatarVideo({ taskId: created.taskId })).status === 'SUCCEEDED' ? true : undefined,
      );
      await new Promise((r) => setTimeout(r, 30));
      expect(bodiesFor(created.taskId)).toEqual([]);
    } finally {
      sim.kling.setCallbacksEnabled(true);
    }
  });
});

describe('parseKlingCallback', () => {
  it.each([
    ['null', null],
    ['an array', []],
    ['an empty object', {}],
    ['no task_status', { task_id: '1' }],
    ['a numeric task_status', { task_id: '1', task_status: 3 }],
    ['a video without url', { task_id: '1', task_status: 'succeed', task_result: { videos: [{ id: 'v' }] } }],
    ['a non-JSON string', 'task_id=1'],
  ])('throws ProviderError kind protocol on %s', (_name, body) => {
    let thrown: unknown;
    try {
      parseKlingCallback(body);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProviderError);
    expect(thrown).toMatchObject({ kind: 'protocol', retryable: false, provider: 'kling' });
  });

  it('parses the raw JSON text of a body as well as the parsed object', () => {
    const body = { task_id: '42', task_status: 'processing', created_at: 1722769557708, updated_at: 1722769558708 };
    expect(parseKlingCallback(JSON.stringify(body))).toEqual(parseKlingCallback(body));
    expect(parseKlingCallback(body)).toMatchObject({
      taskId: '42',
      status: 'RUNNING',
      videos: [],
      externalTaskId: null,
    });
  });

  it('an unknown status "weird" parses to UNKNOWN without throwing', () => {
    const t = parseKlingCallback({ task_id: '7', task_status: 'weird' });
    expect(t.status).toBe('UNKNOWN');
    expect(t.rawStatus).toBe('weird');
  });
});
