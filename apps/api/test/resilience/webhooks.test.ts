import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from '../support/ids.js';
import { SANDBOX_KLING_API_KEY } from '../../src/config.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';
import { KLING_AVATAR_PATH } from '../support/proxy.js';
import {
  eventStatuses,
  simGet,
  sleep,
  snapshot,
  startReceiver,
  TASK_FIELDS,
  webhookHeaders,
  type Delivery,
  type WebhookReceiver,
  ENGINE_ONLY,
  NO_API_RATE_LIMIT,
} from './resilience-support.js';

/*
 * Outbound webhooks (Standard Webhooks) to a partner's receiver on loopback, allow-listed through
 * WEBHOOK_ALLOW_ORIGINS: every delivery verifies with the standardwebhooks verifier, failed ones
 * are retried on schedule with the same webhook-id, in order per task; secret rotation; the tenant
 * default URL; private URLs refused; cancelTask and refreshTask.
 */

const SCHEDULE = [200, 400, 800];

const WEBHOOK_SETTINGS = /* GraphQL */ `{ webhookSettings { defaultUrl secret secretCreatedAt } }`;
const ROTATE = /* GraphQL */ `mutation { rotateWebhookSecret(graceHours: 1) { ... on WebhookSettings { secret secretCreatedAt } } }`;
const SET_DEFAULT = /* GraphQL */ `mutation ($url: String) { setDefaultWebhookUrl(url: $url) { __typename ... on WebhookSettings { defaultUrl } ... on ValidationError { message } } }`;
const CANCEL = /* GraphQL */ `mutation ($id: ID!) { cancelTask(id: $id) { id status statusMessage events { edges { node { status source } } } } }`;
const REFRESH = /* GraphQL */ `mutation ($id: ID!) { refreshTask(id: $id) { id status videos { url } events { edges { node { status source } } } } }`;

let stack: Stack;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startStack({
    webhookScheduleMs: SCHEDULE,
    // One Kling slot: a task holding it keeps the next one PENDING (for cancelTask).
    env: { ...NO_API_RATE_LIMIT, ...ENGINE_ONLY, WEBHOOK_ALLOW_ORIGINS: receiver.origin, KLING_CONCURRENCY: '1' },
  });
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
});

async function createTask(input: Record<string, unknown>, key?: string): Promise<{ id: string; uuid: string }> {
  const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, provider: 'KLING', ...input } }, key);
  expect(res.data?.createAvatarVideo?.__typename, JSON.stringify(res)).toBe('Task');
  return { id: res.data!.createAvatarVideo.id, uuid: uuidOf(res.data!.createAvatarVideo.id) };
}

async function secretOf(key?: string): Promise<string> {
  const res = await stack.gql(WEBHOOK_SETTINGS, {}, key);
  const secret = res.data!.webhookSettings.secret as string;
  expect(secret).toMatch(/^whsec_/);
  return secret;
}

/** stack.waitForFinal, as any tenant (it reads as the sandbox tenant). */
async function finalOf(id: string, key?: string): Promise<Record<string, any>> {
  return eventually(
    async () => {
      const task = (await stack.gql(`query ($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`, { id }, key)).data?.task;
      return task && ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(task.status) ? task : null;
    },
    15_000,
    `task ${id} to finish`,
  );
}

/** Waits until every event of the (final) task has been delivered with a 2xx. */
async function allDelivered(path: string, taskId: string, key?: string): Promise<Delivery[]> {
  const final = await finalOf(taskId, key);
  const want = final.events.edges.length;
  return eventually(
    async () => {
      const ok = receiver.on(path).filter((d) => d.answered < 300);
      return ok.length >= want ? receiver.on(path) : null;
    },
    10_000,
    `${want} deliveries on ${path}`,
  );
}

const statusOf = (d: Delivery) => d.json.data.event.status as string;

describe('outbound webhooks', () => {
  it('every event of a task (PENDING, SUBMITTED, PROCESSING, SUCCEEDED) is delivered in order, and each delivery verifies with the standardwebhooks verifier', async () => {
    const secret = await secretOf();
    const { id } = await createTask({ webhookUrl: receiver.url('/all') });
    const got = await allDelivered('/all', id);
    const final = await stack.waitForFinal(id, TASK_FIELDS);

    expect(got.map(statusOf)).toEqual(eventStatuses(final));
    // PROCESSING is skipped only when Kling finished before the engine read it (a loaded machine).
    expect([
      ['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED'],
      ['PENDING', 'SUBMITTED', 'SUCCEEDED'],
    ]).toContainEqual(got.map(statusOf));
    const verifier = new Webhook(secret);
    for (const d of got) {
      const payload = verifier.verify(d.raw, webhookHeaders(d)) as any;
      expect(payload.type).toBe('task.updated');
      expect(payload.data.task.id).toBe(id);
      expect(d.headers['content-type']).toBe('application/json');
    }
    // One webhook-id per event, each the id of its event.
    expect(new Set(got.map((d) => d.headers['webhook-id'])).size).toBe(got.length);
    // A body changed in transit does not verify.
    expect(() => verifier.verify(got[0]!.raw.replace('PENDING', 'FAILED'), webhookHeaders(got[0]!))).toThrow();
  });

  it('a receiver answering 500 three times gets the same webhook-id on every retry, on schedule, and the task’s later events wait their turn', async () => {
    receiver.failFirst('/flaky', 3);
    const secret = await secretOf();
    const { id } = await createTask({ webhookUrl: receiver.url('/flaky') });
    const got = await allDelivered('/flaky', id);

    // The first event: three 500s, then delivered, all with one webhook-id.
    const first = got.slice(0, 4);
    expect(first.map((d) => d.answered)).toEqual([500, 500, 500, 204]);
    expect(new Set(first.map((d) => d.headers['webhook-id'])).size).toBe(1);
    expect(first.map(statusOf)).toEqual(['PENDING', 'PENDING', 'PENDING', 'PENDING']);
    const gaps = first.slice(1).map((d, i) => d.at - first[i]!.at);
    gaps.forEach((gap, i) => expect(gap, `retry ${i + 1} after ${gap} ms`).toBeGreaterThanOrEqual(SCHEDULE[i]!));
    // Every attempt is freshly signed and verifies.
    for (const d of got) new Webhook(secret).verify(d.raw, webhookHeaders(d));

    // The later events went out only after the first one was through, in order.
    // (PROCESSING is absent when Kling has finished before the engine reads it: a loaded machine.)
    const final = await stack.waitForFinal(id, TASK_FIELDS);
    const later = got.slice(4);
    expect(later.map(statusOf)).toEqual(eventStatuses(final).slice(1));
    expect(later.map(statusOf).at(-1)).toBe('SUCCEEDED');
    expect(later.every((d) => d.answered === 204 && d.at >= first[3]!.at)).toBe(true);
    expect(got.filter((d) => d.answered < 300).map(statusOf)).toEqual(eventStatuses(final));
  });

  it('after rotateWebhookSecret(graceHours: 1) each delivery carries two signatures: the old and the new secret both verify', async () => {
    const tenant = await stack.newTenant('rotation');
    const old = await secretOf(tenant.apiKey);
    const rotated = await stack.gql(ROTATE, {}, tenant.apiKey);
    const fresh = rotated.data!.rotateWebhookSecret.secret as string;
    expect(fresh).not.toBe(old);
    expect(await secretOf(tenant.apiKey)).toBe(fresh);

    const { id } = await createTask({ webhookUrl: receiver.url('/rotated') }, tenant.apiKey);
    const got = await allDelivered('/rotated', id, tenant.apiKey);
    expect(got.length).toBeGreaterThanOrEqual(3);
    for (const d of got) {
      expect(String(d.headers['webhook-signature']).split(' ')).toHaveLength(2);
      new Webhook(old).verify(d.raw, webhookHeaders(d));
      new Webhook(fresh).verify(d.raw, webhookHeaders(d));
      // Each signature on its own belongs to exactly one of the secrets.
      const [s1, s2] = String(d.headers['webhook-signature']).split(' ');
      expect(() => new Webhook(fresh).verify(d.raw, { ...webhookHeaders(d), 'webhook-signature': s1! })).not.toThrow();
      expect(() => new Webhook(old).verify(d.raw, { ...webhookHeaders(d), 'webhook-signature': s2! })).not.toThrow();
      expect(() => new Webhook(old).verify(d.raw, { ...webhookHeaders(d), 'webhook-signature': s1! })).toThrow();
    }
    // The sandbox tenant's deliveries still carry one signature, with its own secret.
    const sandbox = receiver.on('/all');
    expect(String(sandbox[0]!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new Webhook(old).verify(sandbox[0]!.raw, webhookHeaders(sandbox[0]!))).toThrow();
  });

  it('the tenant’s default webhook URL is used when the task names none; private URLs that are not allow-listed are refused at creation', async () => {
    const tenant = await stack.newTenant('defaults');
    const set = await stack.gql(SET_DEFAULT, { url: receiver.url('/default') }, tenant.apiKey);
    expect(set.data!.setDefaultWebhookUrl.defaultUrl).toBe(receiver.url('/default'));
    const secret = await secretOf(tenant.apiKey);

    const { id } = await createTask({}, tenant.apiKey);
    const got = await allDelivered('/default', id, tenant.apiKey);
    expect(got.map(statusOf)).toEqual(eventStatuses(await finalOf(id, tenant.apiKey)));
    expect(got.length).toBeGreaterThanOrEqual(3);
    for (const d of got) new Webhook(secret).verify(d.raw, webhookHeaders(d));

    for (const url of [
      'http://10.0.0.1/hook',
      'http://127.0.0.1:1/',
      'http://localhost:8080/hook',
      'http://169.254.169.254/latest',
    ]) {
      const before = stack.sim.kling.createCount();
      const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, webhookUrl: url } }, tenant.apiKey);
      const result = res.data!.createAvatarVideo;
      expect(result.__typename, url).toBe('ValidationError');
      expect(
        result.issues.map((i: { path: string[] }) => i.path),
        url,
      ).toEqual([['input', 'webhookUrl']]);
      expect(stack.sim.kling.createCount()).toBe(before);
      const refused = await stack.gql(SET_DEFAULT, { url }, tenant.apiKey);
      expect(refused.data!.setDefaultWebhookUrl, url).toEqual({
        __typename: 'ValidationError',
        message: expect.stringMatching(/^url: .*add its origin to WEBHOOK_ALLOW_ORIGINS/),
      });
    }
    expect((await stack.gql(WEBHOOK_SETTINGS, {}, tenant.apiKey)).data!.webhookSettings.defaultUrl).toBe(
      receiver.url('/default'),
    );
  });
});

describe('cancelTask and refreshTask', () => {
  it('a PENDING task canceled before submission is never created upstream', async () => {
    // The holder takes the only Kling slot for 2 s; the next task waits PENDING for it.
    stack.sim.kling.setTiming({ processingAfterMs: 300, succeedAfterMs: 2000 });
    try {
      const holder = await createTask({});
      await eventually(
        async () => (await snapshot(stack, holder.uuid)).task.status !== 'PENDING',
        5000,
        'the holder to be submitted',
      );
      const waiting = await createTask({ webhookUrl: receiver.url('/canceled-pending') });
      await sleep(300);
      expect((await snapshot(stack, waiting.uuid)).task.status).toBe('PENDING');

      const canceled = (await stack.gql(CANCEL, { id: waiting.id })).data!.cancelTask;
      expect(canceled.status).toBe('CANCELED');
      expect(canceled.statusMessage).toMatch(/before it was submitted/);

      // The slot frees; the canceled task is still never sent.
      expect((await stack.waitForFinal(holder.id, 'id')).status).toBe('SUCCEEDED');
      await sleep(1600); // longer than the busy-retry delay
      expect(stack.sim.kling.createsFor(waiting.uuid)).toBe(0);
      const { task, events } = await snapshot(stack, waiting.uuid);
      expect(task.status).toBe('CANCELED');
      expect(task.submitStartedAt).toBeNull();
      expect(events.map((e) => e.status)).toEqual(['PENDING', 'CANCELED']);
      // Its webhook subscriber hears both events.
      await eventually(async () => receiver.on('/canceled-pending').length === 2, 5000, 'two deliveries');
      expect(receiver.on('/canceled-pending').map(statusOf)).toEqual(['PENDING', 'CANCELED']);
    } finally {
      stack.sim.kling.setTiming({ processingAfterMs: 300, succeedAfterMs: 700 });
    }
  });

  it('a running task canceled ends CANCELED, and the provider’s later callbacks do not move it', async () => {
    stack.sim.kling.setTiming({ processingAfterMs: 200, succeedAfterMs: 1200 });
    try {
      const { id, uuid } = await createTask({});
      await eventually(async () => (await snapshot(stack, uuid)).task.status === 'PROCESSING', 5000, 'PROCESSING');
      const canceled = (await stack.gql(CANCEL, { id })).data!.cancelTask;
      expect(canceled.status).toBe('CANCELED');
      expect(canceled.statusMessage).toMatch(/no longer followed/);

      // Kling finishes the task anyway and calls back: acknowledged, ignored.
      const succeedCallback = await eventually(
        async () =>
          stack.sim.kling
            .sentCallbacks()
            .find(
              (c) => (c.body as any).task_info?.external_task_id === uuid && (c.body as any).task_status === 'succeed',
            ),
        5000,
        'Kling’s succeed callback',
      );
      expect(succeedCallback.status).toBe(200);
      await sleep(300);
      const { task, events } = await snapshot(stack, uuid);
      expect(task.status).toBe('CANCELED');
      expect(task.output.videos).toEqual([]);
      expect(events.map((e) => e.status)).toEqual(['PENDING', 'SUBMITTED', 'PROCESSING', 'CANCELED']);
      // Canceling again, or refreshing, leaves it as it is.
      expect((await stack.gql(CANCEL, { id })).data!.cancelTask.status).toBe('CANCELED');
      expect((await stack.gql(REFRESH, { id })).data!.refreshTask.status).toBe('CANCELED');
      expect((await snapshot(stack, uuid)).events).toHaveLength(4);
    } finally {
      stack.sim.kling.setTiming({ processingAfterMs: 300, succeedAfterMs: 700 });
    }
  });

  it('refreshTask returns the provider’s current state when callbacks are lost', async () => {
    stack.sim.kling.setCallbacksEnabled(false);
    stack.sim.kling.setTiming({ processingAfterMs: 300, succeedAfterMs: 1500 });
    try {
      const { id, uuid } = await createTask({});
      await eventually(async () => (await snapshot(stack, uuid)).task.status === 'SUBMITTED', 5000, 'SUBMITTED');
      const atKling = async () =>
        (await simGet(stack, `${KLING_AVATAR_PATH}/${uuid}`, SANDBOX_KLING_API_KEY)).data.task_status;

      await eventually(async () => (await atKling()) === 'processing', 5000, 'Kling to be processing');
      const processing = (await stack.gql(REFRESH, { id })).data!.refreshTask;
      expect(processing.status).toBe('PROCESSING');
      expect(processing.events.edges.at(-1).node.source).toBe('POLL');

      await eventually(async () => (await atKling()) === 'succeed', 5000, 'Kling to succeed');
      const done = (await stack.gql(REFRESH, { id })).data!.refreshTask;
      expect(done.status).toBe('SUCCEEDED');
      expect(done.videos.map((v: { url: string }) => v.url)).toEqual([
        `${stack.sim.url}/media/kling/avatar-sample-3056ms.mp4`,
      ]);
      expect(done.events.edges.map((e: { node: { status: string } }) => e.node.status)).toEqual([
        'PENDING',
        'SUBMITTED',
        'PROCESSING',
        'SUCCEEDED',
      ]);
    } finally {
      stack.sim.kling.setCallbacksEnabled(true);
      stack.sim.kling.setTiming({ processingAfterMs: 300, succeedAfterMs: 700 });
    }
  });
});
