import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookDeliveries, webhookDeliveryAttempts } from '@clipwire/schema/tables';
import { eq, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from './support/ids.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';
import {
  NO_API_RATE_LIMIT,
  startReceiver,
  type WebhookReceiver,
  webhookHeaders,
} from './resilience/resilience-support.js';

/*
 * The delivery log (webhookDeliveries), redeliverWebhook and sendTestWebhook against a real
 * receiving HTTP server on loopback, and the retention job.
 */

/** An origin nothing listens on (a server started, its port noted, and closed). */
async function closedOrigin(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const DELIVERIES = /* GraphQL */ `
  query ($taskId: ID, $status: WebhookDeliveryStatus, $first: Int, $after: String) {
    webhookDeliveries(taskId: $taskId, status: $status, first: $first, after: $after) {
      edges { cursor node {
        id url status eventType webhookId attemptCount nextAttemptAt redeliveryOf createdAt
        event { cursor status task { id } }
        attempts { attemptedAt httpStatus durationMs responseExcerpt error }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const REDELIVER = 'mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { id status redeliveryOf webhookId } }';
const SEND_TEST = /* GraphQL */ `
  mutation ($url: String) {
    sendTestWebhook(url: $url) {
      __typename
      ... on WebhookTestResult { url webhookId delivered httpStatus durationMs responseExcerpt error }
      ... on ValidationError { issues { path message } }
    }
  }
`;

let stack: Stack;
let receiver: WebhookReceiver;
let closed: string;
let secret: string;
let taskId: string;

beforeAll(async () => {
  receiver = await startReceiver();
  // `/flaky` answers its first two requests 500 with a 3000-byte body (then 204); `/ok` answers 200 "ok".
  receiver.answer('/flaky', { status: 500, body: `boom:${'x'.repeat(2995)}` }, 2);
  receiver.answer('/ok', { status: 200, body: 'ok' });
  closed = await closedOrigin();
  stack = await startStack({
    env: { ...NO_API_RATE_LIMIT, WEBHOOK_ALLOW_ORIGINS: `${receiver.origin},${closed}` },
    // The first retry late enough to be seen waiting, the second soon.
    webhookScheduleMs: [1500, 200, 200],
    // Old deliveries are looked for every 300 ms (hourly by default).
    webhookRetentionSweepMs: 300,
  });
  secret = (await stack.gql('{ webhookSettings { secret } }')).data!.webhookSettings.secret;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
});

const EVENTS_OF = 'query ($id: ID!) { task(id: $id) { events { edges { node { cursor type } } } } }';

const deliveriesOf = async (id: string, key?: string) =>
  (await stack.gql(DELIVERIES, { taskId: id, first: 50 }, key)).data!.webhookDeliveries.edges.map((e: any) => e.node);

describe('webhook deliveries', () => {
  it('records a failing receiver’s attempts (status, 1 KiB excerpt, error) and the next retry, then the delivery', {
    timeout: 60_000,
  }, async () => {
    const created = await stack.gql(CREATE_AVATAR, {
      input: { ...SAMPLE_INPUT, externalTaskId: 'wh-flaky', webhookUrl: `${receiver.origin}/flaky` },
    });
    taskId = created.data!.createAvatarVideo.id;
    // The first event's delivery failed once and waits for its retry.
    const retrying = await eventually(
      async () => (await deliveriesOf(taskId)).find((d: any) => d.status === 'RETRYING'),
      10_000,
      'a delivery RETRYING',
    );
    expect(retrying.attempts).toHaveLength(1);
    const [first] = retrying.attempts;
    expect(first.httpStatus).toBe(500);
    expect(first.error).toBe('receiver answered HTTP 500');
    expect(first.responseExcerpt).toBe(`boom:${'x'.repeat(1019)}`);
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(retrying.nextAttemptAt)).toBeGreaterThan(Date.parse(first.attemptedAt));
    expect(retrying.event.cursor).toBeTruthy();
    expect(retrying.event.task.id).toBe(taskId);
    expect(retrying.webhookId).toBe(`evt_${retrying.event.cursor}`);
    expect(retrying.url).toBe(`${receiver.origin}/flaky`);
    expect(retrying.eventType).toBe('task.updated');

    await stack.waitForFinal(taskId, 'status');
    // The last event: the outputs archived (after SUCCEEDED).
    const final = await eventually(
      async () => {
        const task = (await stack.gql(EVENTS_OF, { id: taskId })).data!.task;
        return task.events.edges.some((e: any) => e.node.type === 'OUTPUTS_ARCHIVED') ? task : null;
      },
      20_000,
      'the outputs archived',
    );
    // Every event delivered (one delivery each), in order; the first after two failures.
    const events = final.events.edges.length as number;
    expect(events).toBeGreaterThanOrEqual(3);
    const all = await eventually(
      async () => {
        const list = await deliveriesOf(taskId);
        return list.length === events && list.every((d: any) => d.status === 'DELIVERED') ? list : null;
      },
      20_000,
      'a delivery DELIVERED per event',
    );
    const head = all.find((d: any) => d.id === retrying.id);
    expect(head.attempts.map((a: any) => a.httpStatus)).toEqual([500, 500, 204]);
    expect(head.attemptCount).toBe(3);
    expect(head.nextAttemptAt).toBeNull();
    expect(head.attempts[2]).toMatchObject({ error: null, responseExcerpt: null });
    // Newest first: the events' cursors descend.
    const cursors = all.map((d: any) => Number(d.event.cursor));
    expect(cursors).toEqual([...cursors].sort((a, b) => b - a));

    // Nothing sent is stored: no signature or secret in any attempt.
    const stored = await stack.app.db.db.select().from(webhookDeliveryAttempts);
    expect(JSON.stringify(stored)).not.toContain('whsec_');
    expect(JSON.stringify(stored)).not.toContain('v1,');
    // Filters: by status.
    const failed = await stack.gql(DELIVERIES, { taskId, status: 'FAILED' });
    expect(failed.data!.webhookDeliveries.edges).toEqual([]);
  });

  it('redelivers an event as a new delivery, signed afresh under the same webhook-id, and records it', {
    timeout: 30_000,
  }, async () => {
    const [latest] = await deliveriesOf(taskId);
    const before = receiver.deliveries.length;
    const again = await stack.gql(REDELIVER, { id: latest.id });
    expect(again.data!.redeliverWebhook).toMatchObject({ redeliveryOf: latest.id, webhookId: latest.webhookId });
    const newId = again.data!.redeliverWebhook.id;
    expect(newId).not.toBe(latest.id);
    const done = await eventually(
      async () => (await deliveriesOf(taskId)).find((d: any) => d.id === newId && d.status === 'DELIVERED'),
      10_000,
      'the redelivery DELIVERED',
    );
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0].httpStatus).toBe(204);
    const sent = receiver.deliveries.slice(before).filter((r) => r.headers['webhook-id'] === latest.webhookId);
    expect(sent).toHaveLength(1);
    // Verifies with the tenant's secret (throws otherwise), and names the same event.
    const body = new Webhook(secret).verify(sent[0]!.raw, webhookHeaders(sent[0]!)) as any;
    expect(String(body.data.event.cursor)).toBe(latest.event.cursor);
  });

  it('sends a signed test event to a good URL, and reports a refused and an unreachable one', async () => {
    const ok = (await stack.gql(SEND_TEST, { url: `${receiver.origin}/ok` })).data!.sendTestWebhook;
    expect(ok).toMatchObject({
      __typename: 'WebhookTestResult',
      delivered: true,
      httpStatus: 200,
      responseExcerpt: 'ok',
    });
    expect(ok.error).toBeNull();
    const got = receiver.deliveries.find((r) => r.headers['webhook-id'] === ok.webhookId)!;
    expect((new Webhook(secret).verify(got.raw, webhookHeaders(got)) as any).type).toBe('webhook.test');

    // A private address not in WEBHOOK_ALLOW_ORIGINS: refused before anything is sent, naming the field.
    const refused = (await stack.gql(SEND_TEST, { url: 'http://127.0.0.1:1/hook' })).data!.sendTestWebhook;
    expect(refused.__typename).toBe('ValidationError');
    expect(refused.issues[0].path).toEqual(['url']);
    expect(refused.issues[0].message).toContain('WEBHOOK_ALLOW_ORIGINS');

    // Allowed, but nothing listens: the outcome says so.
    const down = (await stack.gql(SEND_TEST, { url: `${closed}/hook` })).data!.sendTestWebhook;
    expect(down).toMatchObject({ __typename: 'WebhookTestResult', delivered: false, httpStatus: null });
    expect(down.error).toMatch(/ECONNREFUSED|refused/i);

    // No URL: the tenant's default, once there is one.
    const none = (await stack.gql(SEND_TEST, {})).data!.sendTestWebhook;
    expect(none).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['url'] }] });
    await stack.gql('mutation ($url: String) { setDefaultWebhookUrl(url: $url) { __typename } }', {
      url: `${receiver.origin}/ok`,
    });
    const byDefault = (await stack.gql(SEND_TEST, {})).data!.sendTestWebhook;
    expect(byDefault).toMatchObject({ url: `${receiver.origin}/ok`, delivered: true });
    await stack.gql('mutation { setDefaultWebhookUrl(url: null) { __typename } }');
  });

  it('keeps another tenant from seeing or redelivering them', async () => {
    const other = await stack.newTenant('webhook-other');
    const [latest] = await deliveriesOf(taskId);
    expect(await deliveriesOf(taskId, other.apiKey)).toEqual([]);
    const everything = await stack.gql(DELIVERIES, { first: 50 }, other.apiKey);
    expect(everything.data!.webhookDeliveries.edges).toEqual([]);
    const count = async () => (await stack.app.db.db.select().from(webhookDeliveries)).length;
    const before = await count();
    const again = await stack.gql(REDELIVER, { id: latest.id }, other.apiKey);
    expect(again.data!.redeliverWebhook).toBeNull();
    expect(await count()).toBe(before);
  });

  it('deletes finished deliveries older than the retention, and only those, periodically', {
    timeout: 30_000,
  }, async () => {
    const db = stack.app.db.db;
    const list = await deliveriesOf(taskId);
    const [old, recent] = list;
    const [{ tenantId }] = (await db
      .select({ tenantId: webhookDeliveries.tenantId })
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.id, old.id))) as [{ tenantId: string }];
    // An old one still waiting (as one behind a failing delivery would be) is kept: made first, so
    // the sweep that deletes the other has seen it.
    const [waiting] = await db
      .insert(webhookDeliveries)
      .values({
        tenantId,
        taskId: uuidOf(taskId),
        eventId: Number(old.event.cursor),
        url: old.url,
        status: 'PENDING',
        createdAt: new Date(Date.now() - 40 * 86_400_000),
      })
      .returning();
    await db
      .update(webhookDeliveries)
      .set({ createdAt: sql`now() - interval '31 days'` })
      .where(eq(webhookDeliveries.id, old.id));
    await eventually(
      async () => (await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, old.id))).length === 0,
      10_000,
      'the old delivery deleted',
    );
    const left = new Set((await db.select().from(webhookDeliveries)).map((d) => d.id));
    expect(left.has(recent.id)).toBe(true);
    expect(left.has(waiting!.id)).toBe(true);
    expect(
      await db.select().from(webhookDeliveryAttempts).where(eq(webhookDeliveryAttempts.deliveryId, old.id)),
    ).toEqual([]);
  });
});
