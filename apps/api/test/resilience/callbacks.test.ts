import { randomBytes } from 'node:crypto';
import { signKieCallback } from '@clipwire/providers/kie';
import { klingCallbackHeaders } from '@clipwire/providers/kling';
import type { SentCallback } from '@clipwire/providers/simulator';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from '../support/ids.js';
import { SANDBOX_KIE_API_KEY } from '../../src/config.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';
import {
  ENGINE_ONLY,
  NO_API_RATE_LIMIT,
  observable,
  post,
  shuffle,
  simGet,
  sleep,
  snapshot,
  TASK_FIELDS,
} from './resilience-support.js';

/*
 * Provider callbacks are notifications, never the source of a result: duplicates, replays and
 * reordering leave one event per transition; forged ones (wrong token, fake result URL, KIE
 * signature replayed on another body, unsigned Kling callbacks when a secret is configured)
 * change nothing; a lost final callback is made up for by the poller.
 */

const KIE_HMAC_KEY = 'kie-hmac-test-key-0123456789';
const EVIL = 'https://evil.example/fake-result.mp4';
const RANK = ['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED'];
const FAST_KIE = { queuingAfterMs: 100, generatingAfterMs: 300, completeAfterMs: 700 };
const FAST_KLING = { processingAfterMs: 300, succeedAfterMs: 700 };

async function createTask(stack: Stack, input: Record<string, unknown>): Promise<{ id: string; uuid: string }> {
  const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, ...input } });
  expect(res.data?.createAvatarVideo?.__typename, JSON.stringify(res)).toBe('Task');
  return { id: res.data!.createAvatarVideo.id, uuid: uuidOf(res.data!.createAvatarVideo.id) };
}

async function statusIs(stack: Stack, uuid: string, ...statuses: string[]) {
  return eventually(
    async () => {
      const s = await snapshot(stack, uuid);
      return statuses.includes(s.task.status) ? s : null;
    },
    15_000,
    `task ${uuid} to be ${statuses.join('|')}`,
  );
}

const klingCallbacksOf = (stack: Stack, uuid: string) =>
  stack.sim.kling.sentCallbacks().filter((c) => (c.body as any).task_info?.external_task_id === uuid);
const kieCallbacksOf = (stack: Stack, providerTaskId: string) =>
  stack.sim.kie.sentCallbacks().filter((c) => (c.body as any).data?.taskId === providerTaskId);

/** Each transition at most once, in lifecycle order, ending SUCCEEDED. */
function expectOneEventPerTransition(statuses: string[]) {
  expect(statuses[0]).toBe('PENDING');
  expect(statuses.at(-1)).toBe('SUCCEEDED');
  expect(new Set(statuses).size).toBe(statuses.length);
  const ranks = statuses.map((s) => RANK.indexOf(s));
  expect(ranks.every((r, i) => r >= 0 && (i === 0 || r > ranks[i - 1]!))).toBe(true);
}

/**
 * While a task runs, every callback the simulator delivers is replayed 5 more times at once, as
 * it arrives; returns the answers when stopped.
 */
function replayAsDelivered(
  sent: () => SentCallback[],
  headersOf: (c: SentCallback) => Record<string, string> = () => ({}),
) {
  const seen = new Set<SentCallback['body']>();
  const answers: Promise<number>[] = [];
  let on = true;
  const sweep = () => {
    for (const c of sent()) {
      if (seen.has(c.body) || c.status === 'dropped') continue;
      seen.add(c.body);
      for (let i = 0; i < 5; i++) answers.push(post(c.url, JSON.stringify(c.body), headersOf(c)));
    }
  };
  const loop = (async () => {
    while (on) {
      sweep();
      await sleep(5);
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      sweep(); // a callback recorded after the loop's last pass is replayed too
      return Promise.all(answers);
    },
  };
}

/** The callBackUrl KIE was given for a task, read back from KIE's own record of the create. */
async function kieCallbackUrl(stack: Stack, providerTaskId: string): Promise<string> {
  const record = await simGet(
    stack,
    `/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(providerTaskId)}`,
    SANDBOX_KIE_API_KEY,
  );
  return JSON.parse(record.data.param).callBackUrl;
}

function kieSigned(taskId: string, timestamp = String(Math.floor(Date.now() / 1000))) {
  return { 'x-webhook-timestamp': timestamp, 'x-webhook-signature': signKieCallback(taskId, timestamp, KIE_HMAC_KEY) };
}

describe('callbacks (KIE signed with an HMAC key, poll 1.5 s after submission)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      kie: { hmacKey: KIE_HMAC_KEY },
      env: { ...NO_API_RATE_LIMIT, ...ENGINE_ONLY, KIE_WEBHOOK_HMAC_KEY: KIE_HMAC_KEY },
      engine: { callbackGraceMs: 1500 },
    });
  });
  afterAll(() => stack?.stop());

  it('Kling: every callback delivered 5× more, concurrently, as it arrives (with duplicates and reordering), then all 5× shuffled: one event per transition', async () => {
    stack.sim.kling.setCallbackFaults({ duplicate: { probability: 1 }, reorder: { probability: 0.5 } });
    let uuid = '';
    const replays = replayAsDelivered(() => (uuid ? klingCallbacksOf(stack, uuid) : []));
    try {
      ({ uuid } = await createTask(stack, { provider: 'KLING' }));
      await statusIs(stack, uuid, 'SUCCEEDED');
      await eventually(
        async () => new Set(klingCallbacksOf(stack, uuid).map((c) => (c.body as any).task_status)).size === 3,
        5000,
        'the three callbacks',
      );
    } finally {
      stack.sim.kling.clearFaults();
    }
    const live = await replays.stop();
    expect(live.length).toBeGreaterThanOrEqual(15);
    expect(live.every((s) => s === 200)).toBe(true);

    const sent = klingCallbacksOf(stack, uuid);
    expect(sent.some((c) => c.fault === 'duplicate')).toBe(true);
    const after = await Promise.all(
      shuffle(sent.flatMap((c) => Array.from({ length: 5 }, () => c))).map((c) => post(c.url, JSON.stringify(c.body))),
    );
    expect(after.every((s) => s === 200)).toBe(true);
    await sleep(300);
    const { task, events } = await snapshot(stack, uuid);
    expect(task.status).toBe('SUCCEEDED');
    expectOneEventPerTransition(events.map((e) => e.status));
  });

  it('KIE: the signed terminal callback delivered twice by KIE and 5× more at once, then 5× shuffled: one event per transition', async () => {
    stack.sim.kie.setCallbackFaults({ duplicate: { probability: 1 } });
    let providerTaskId = '';
    const replays = replayAsDelivered(
      () => (providerTaskId ? kieCallbacksOf(stack, providerTaskId) : []),
      (c) => c.headers,
    );
    let uuid: string;
    try {
      ({ uuid } = await createTask(stack, { provider: 'KIE', prompt: 'replayed' }));
      providerTaskId = (await statusIs(stack, uuid, 'SUBMITTED', 'PROCESSING', 'SUCCEEDED')).task.providerTaskId!;
      await statusIs(stack, uuid, 'SUCCEEDED');
      await eventually(
        async () => kieCallbacksOf(stack, providerTaskId).length >= 2,
        5000,
        'the callback and its duplicate',
      );
    } finally {
      stack.sim.kie.clearFaults();
    }
    const live = await replays.stop();
    expect(live.length).toBeGreaterThanOrEqual(5);
    expect(live.every((s) => s === 200)).toBe(true);
    const sent = kieCallbacksOf(stack, providerTaskId);
    expect(sent.map((c) => c.status)).toEqual([200, 200]);
    const after = await Promise.all(
      shuffle(sent.flatMap((c) => Array.from({ length: 5 }, () => c))).map((c) =>
        post(c.url, JSON.stringify(c.body), c.headers),
      ),
    );
    expect(after.every((s) => s === 200)).toBe(true);
    await sleep(300);
    const { task, events } = await snapshot(stack, uuid);
    expect(task.status).toBe('SUCCEEDED');
    expectOneEventPerTransition(events.map((e) => e.status));
  });

  it('Kling: a wrong token is refused; the right token with a fake “succeed” and a fake result URL changes nothing — results come from Kling’s API', async () => {
    stack.sim.kling.setTiming({ processingAfterMs: 200, succeedAfterMs: 3000 });
    try {
      const { id, uuid } = await createTask(stack, { provider: 'KLING' });
      const { task } = await statusIs(stack, uuid, 'PROCESSING');
      const url = stack.sim.kling.lastCreateBody(uuid)!.callback_url as string;
      const forged = JSON.stringify({
        task_id: task.providerTaskId,
        task_status: 'succeed',
        task_status_msg: '',
        task_info: { external_task_id: uuid },
        created_at: Date.now() - 1000,
        updated_at: Date.now(),
        task_result: { videos: [{ id: 'fake', url: EVIL, duration: '2.5' }] },
      });
      const before = await observable(stack, uuid);

      expect(await post(`${stack.url}/callbacks/kling/${randomBytes(32).toString('base64url')}`, forged)).toBe(404);
      expect(await post(url.replace('/kling/', '/kie/'), forged)).toBe(404); // the token belongs to a Kling task
      expect(await observable(stack, uuid)).toEqual(before);

      // Acknowledged (it is only a notification) and followed by a read of Kling's API.
      const reads = stack.sim.kling.requestCount();
      expect(await post(url, forged)).toBe(200);
      await eventually(async () => stack.sim.kling.requestCount() > reads, 5000, 'the refresh read of Kling’s API');
      await sleep(200);
      const mid = await snapshot(stack, uuid);
      expect(mid.task.status).toBe('PROCESSING');
      expect(JSON.stringify(mid.task)).not.toContain('evil.example');

      const final = await stack.waitForFinal(id, TASK_FIELDS);
      expect(final.status).toBe('SUCCEEDED');
      expect(final.videos.length).toBeGreaterThan(0);
      expect(final.videos.every((v: { url: string }) => v.url.startsWith(`${stack.sim.url}/media/kling/`))).toBe(true);
      expect(JSON.stringify((await snapshot(stack, uuid)).task)).not.toContain('evil.example');
    } finally {
      stack.sim.kling.setTiming(FAST_KLING);
    }
  });

  it('KIE: task A’s valid signature replayed on task B’s body, a missing, wrong or stale signature are refused (400) and change nothing; a signed fake result URL is never used', async () => {
    // Task A finishes and calls back with a valid signature.
    const a = await createTask(stack, { provider: 'KIE', prompt: 'task A' });
    const aTaskId = (await statusIs(stack, a.uuid, 'SUCCEEDED')).task.providerTaskId!;
    const aCallback = await eventually(async () => kieCallbacksOf(stack, aTaskId)[0], 5000, 'A’s callback');
    expect(aCallback.status).toBe(200);
    expect(aCallback.headers['x-webhook-signature']).toBeTruthy();

    // Task B is still queuing at KIE.
    stack.sim.kie.setTiming({ queuingAfterMs: 100, generatingAfterMs: 3000, completeAfterMs: 3500 });
    try {
      const b = await createTask(stack, { provider: 'KIE', prompt: 'task B' });
      const bTaskId = (await statusIs(stack, b.uuid, 'SUBMITTED')).task.providerTaskId!;
      const bUrl = await kieCallbackUrl(stack, bTaskId);
      const bBody = (overrides: Record<string, unknown> = {}) =>
        JSON.stringify({
          ...(aCallback.body as object),
          data: {
            ...(aCallback.body as any).data,
            taskId: bTaskId,
            resultJson: JSON.stringify({ resultUrls: [EVIL] }),
            ...overrides,
          },
        });
      const before = await observable(stack, b.uuid);

      const answers = {
        replayedSignature: await post(bUrl, bBody(), aCallback.headers),
        missingSignature: await post(bUrl, bBody()),
        timestampOnly: await post(bUrl, bBody(), { 'x-webhook-timestamp': aCallback.headers['x-webhook-timestamp']! }),
        wrongKey: await post(bUrl, bBody(), {
          'x-webhook-timestamp': aCallback.headers['x-webhook-timestamp']!,
          'x-webhook-signature': aCallback.headers['x-webhook-signature']!.replace(/^./, (c) =>
            c === 'A' ? 'B' : 'A',
          ),
        }),
        stale: await post(bUrl, bBody(), kieSigned(bTaskId, String(Math.floor(Date.now() / 1000) - 3600))),
        aBodyOnBUrl: await post(bUrl, JSON.stringify(aCallback.body), aCallback.headers),
      };
      expect(answers).toEqual({
        replayedSignature: 400,
        missingSignature: 400,
        timestampOnly: 400,
        wrongKey: 400,
        stale: 400,
        aBodyOnBUrl: 400,
      });
      expect(await observable(stack, b.uuid)).toEqual(before);

      // Even correctly signed (the signature covers only taskId + timestamp), a body claiming
      // success with a fake URL is only a notification: recordInfo says the task is not done.
      const reads = stack.sim.kie.requestCount();
      expect(await post(bUrl, bBody(), kieSigned(bTaskId))).toBe(200);
      await eventually(async () => stack.sim.kie.requestCount() > reads, 5000, 'the refresh read of recordInfo');
      await sleep(200);
      const mid = await snapshot(stack, b.uuid);
      expect(mid.task.status).toBe('SUBMITTED');
      expect(JSON.stringify(mid.task)).not.toContain('evil.example');

      const final = await stack.waitForFinal(b.id, TASK_FIELDS);
      expect(final.status).toBe('SUCCEEDED');
      expect(final.videos.map((v: { url: string }) => v.url)).toEqual([
        `${stack.sim.url}/media/kie/avatar-sample-3056ms.mp4`,
      ]);
    } finally {
      stack.sim.kie.setTiming(FAST_KIE);
    }
  });

  it('a dropped final callback is recovered by the poller (Kling and KIE): SUCCEEDED, last event from POLL', async () => {
    // Kling: the 'processing' callback arrives, then the 'succeed' one is lost.
    stack.sim.kling.setTiming({ processingAfterMs: 200, succeedAfterMs: 900 });
    try {
      const k = await createTask(stack, { provider: 'KLING' });
      await statusIs(stack, k.uuid, 'PROCESSING');
      stack.sim.kling.setCallbackFaults({ drop: { count: 1 } });
      const kf = await stack.waitForFinal(k.id, TASK_FIELDS);
      expect(kf.status).toBe('SUCCEEDED');
      expect(kf.events.edges.at(-1).node.source).toBe('POLL');
      const dropped = klingCallbacksOf(stack, k.uuid).filter((c) => c.status === 'dropped');
      expect(dropped.map((c) => (c.body as any).task_status)).toEqual(['succeed']);
    } finally {
      stack.sim.kling.clearFaults();
      stack.sim.kling.setTiming(FAST_KLING);
    }

    // KIE calls back once, at the end: that one is lost.
    stack.sim.kie.setCallbackFaults({ drop: { count: 1 } });
    try {
      const c = await createTask(stack, { provider: 'KIE', prompt: 'dropped' });
      const cf = await stack.waitForFinal(c.id, TASK_FIELDS);
      expect(cf.status).toBe('SUCCEEDED');
      expect(cf.events.edges.at(-1).node.source).toBe('POLL');
      expect(kieCallbacksOf(stack, cf.providerTaskId).map((x) => x.status)).toEqual(['dropped']);
      expect(cf.videos.map((v: { url: string }) => v.url)).toEqual([
        `${stack.sim.url}/media/kie/avatar-sample-3056ms.mp4`,
      ]);
    } finally {
      stack.sim.kie.clearFaults();
    }
  });

  it('malformed and oversized callbacks (Kling and KIE) are refused with 400 / 413 / 405 and change nothing', async () => {
    stack.sim.kling.setTiming({ processingAfterMs: 2000, succeedAfterMs: 2500 });
    stack.sim.kie.setTiming({ queuingAfterMs: 100, generatingAfterMs: 2000, completeAfterMs: 2500 });
    try {
      const k = await createTask(stack, { provider: 'KLING' });
      const c = await createTask(stack, { provider: 'KIE', prompt: 'malformed' });
      const kTask = (await statusIs(stack, k.uuid, 'SUBMITTED')).task;
      const cTask = (await statusIs(stack, c.uuid, 'SUBMITTED')).task;
      const kUrl = stack.sim.kling.lastCreateBody(k.uuid)!.callback_url as string;
      const cUrl = await kieCallbackUrl(stack, cTask.providerTaskId!);
      const before = { k: await observable(stack, k.uuid), c: await observable(stack, c.uuid) };
      const big = (body: object) => JSON.stringify({ ...body, pad: 'x'.repeat(65 * 1024) });
      const kGood = { task_id: kTask.providerTaskId, task_status: 'succeed', task_info: { external_task_id: k.uuid } };

      const kling = {
        notJson: await post(kUrl, '{"task_id": 12, '),
        empty: await post(kUrl, ''),
        array: await post(kUrl, '[]'),
        wrongShape: await post(kUrl, JSON.stringify({ hello: 'world' })),
        oversized: await post(kUrl, big(kGood)),
      };
      expect(kling).toEqual({ notJson: 400, empty: 400, array: 400, wrongShape: 400, oversized: 413 });
      const signed = kieSigned(cTask.providerTaskId!);
      const kie = {
        notJson: await post(cUrl, 'taskId=1', signed),
        array: await post(cUrl, '[1,2]', signed),
        wrongShape: await post(cUrl, JSON.stringify({ code: 200, data: { taskId: cTask.providerTaskId } }), signed),
        oversized: await post(
          cUrl,
          big({ code: 200, data: { taskId: cTask.providerTaskId, state: 'success' } }),
          signed,
        ),
      };
      expect(kie).toEqual({ notJson: 400, array: 400, wrongShape: 400, oversized: 413 });
      const get = await fetch(kUrl);
      expect(get.status).toBe(405);
      await sleep(200);
      expect({ k: await observable(stack, k.uuid), c: await observable(stack, c.uuid) }).toEqual(before);

      // The real callbacks still work afterwards.
      const [kf, cf] = await Promise.all([stack.waitForFinal(k.id, 'id'), stack.waitForFinal(c.id, 'id')]);
      expect([kf.status, cf.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    } finally {
      stack.sim.kling.setTiming(FAST_KLING);
      stack.sim.kie.setTiming(FAST_KIE);
    }
  });
});

describe('Kling callbacks signed with KLING_WEBHOOK_SECRET (Standard Webhooks)', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let stack: Stack;
  beforeAll(async () => {
    // No poll for 20 s: only a callback can move the task in this test.
    stack = await startStack({
      env: { ...NO_API_RATE_LIMIT, ...ENGINE_ONLY, KLING_WEBHOOK_SECRET: secret },
      engine: { callbackGraceMs: 20_000 },
    });
  });
  afterAll(() => stack?.stop());

  it('the simulator’s unsigned callbacks, a wrong secret, a signature of another body and a stale one are refused; a correctly signed one is accepted', async () => {
    const { id, uuid } = await createTask(stack, { provider: 'KLING' });
    // The simulator does not sign Kling callbacks: all three are refused.
    const unsigned = await eventually(
      async () => {
        const sent = klingCallbacksOf(stack, uuid);
        return sent.length === 3 ? sent : null;
      },
      5000,
      'the three unsigned callbacks',
    );
    expect(unsigned.map((c) => [(c.body as any).task_status, c.status])).toEqual([
      ['submitted', 400],
      ['processing', 400],
      ['succeed', 400],
    ]);
    const url = unsigned[2]!.url;
    const body = JSON.stringify(unsigned[2]!.body);
    const before = await observable(stack, uuid);
    expect(before.status).toBe('SUBMITTED');

    const sign = (s: string, payload: string, at = new Date()) => klingCallbackHeaders(new Webhook(s), payload, at);
    const other = JSON.stringify({ ...(unsigned[2]!.body as object), task_status_msg: 'tampered' });
    const answers = {
      unsigned: await post(url, body),
      wrongSecret: await post(url, body, sign(`whsec_${randomBytes(32).toString('base64')}`, body)),
      otherBody: await post(url, body, sign(secret, other)),
      stale: await post(url, body, sign(secret, body, new Date(Date.now() - 3600_000))),
    };
    expect(answers).toEqual({ unsigned: 400, wrongSecret: 400, otherBody: 400, stale: 400 });
    await sleep(200);
    expect(await observable(stack, uuid)).toEqual(before);

    // A signed body is authenticated as a whole: it is applied as it is, without reading Kling.
    const klingRequests = stack.sim.kling.requestCount();
    expect(await post(url, body, sign(secret, body))).toBe(200);
    const final = await stack.waitForFinal(id, TASK_FIELDS, 5000);
    expect(final.status).toBe('SUCCEEDED');
    expect(final.events.edges.at(-1).node.source).toBe('CALLBACK');
    expect(stack.sim.kling.requestCount()).toBe(klingRequests);
    const stored = await observable(stack, uuid);
    const sent = unsigned[2]!.body as any;
    expect(stored.output.videos.map((v: any) => v.url)).toEqual(sent.task_result.videos.map((v: any) => v.url));

    // The same signed callback again (a provider retry) changes nothing and writes no event.
    expect(await post(url, body, sign(secret, body))).toBe(200);
    await sleep(200);
    expect(await observable(stack, uuid)).toEqual(stored);
  });

  it('a signed callback whose text the database cannot store (NUL, lone surrogates) is applied with U+FFFD in its place', async () => {
    const { id, uuid } = await createTask(stack, { provider: 'KLING' });
    const succeed = await eventually(
      async () => klingCallbacksOf(stack, uuid).find((c) => (c.body as any).task_status === 'succeed'),
      5000,
      'the succeed callback',
    );
    const body = JSON.stringify({ ...(succeed.body as object), task_status_msg: 'done\u0000 \ud800 \udc00 ok' });
    expect(await post(succeed.url, body, klingCallbackHeaders(new Webhook(secret), body, new Date()))).toBe(200);
    const final = await stack.waitForFinal(id, 'statusMessage events { edges { node { status message } } }', 5000);
    expect(final.status).toBe('SUCCEEDED');
    expect(final.statusMessage).toBe('done\ufffd \ufffd \ufffd ok');
    expect(final.events.edges.at(-1).node).toEqual({ status: 'SUCCEEDED', message: 'done\ufffd \ufffd \ufffd ok' });
  });
});

describe('Kling callbacks from a simulator that signs them (sandbox with KLING_WEBHOOK_SECRET)', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let stack: Stack;
  beforeAll(async () => {
    // As `pnpm start` runs the sandbox when KLING_WEBHOOK_SECRET is set; no poll for 20 s.
    stack = await startStack({
      env: { ...NO_API_RATE_LIMIT, ...ENGINE_ONLY, KLING_WEBHOOK_SECRET: secret },
      kling: { webhookSecret: secret },
      engine: { callbackGraceMs: 20_000 },
    });
  });
  afterAll(() => stack?.stop());

  it('every callback carries a valid Standard Webhooks signature over its body, and the API accepts each and moves the task by them', async () => {
    const { id, uuid } = await createTask(stack, { provider: 'KLING' });
    const final = await stack.waitForFinal(id, TASK_FIELDS, 10_000);
    expect(final.status).toBe('SUCCEEDED');
    expect(final.events.edges.map((e: any) => [e.node.status, e.node.source]).slice(-2)).toEqual([
      ['PROCESSING', 'CALLBACK'],
      ['SUCCEEDED', 'CALLBACK'],
    ]);
    const sent = klingCallbacksOf(stack, uuid);
    expect(sent.map((c) => [(c.body as any).task_status, c.status])).toEqual([
      ['submitted', 200],
      ['processing', 200],
      ['succeed', 200],
    ]);
    const verifier = new Webhook(secret);
    for (const c of sent) expect(() => verifier.verify(JSON.stringify(c.body), c.headers)).not.toThrow();
  });
});
