import { tasks } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from './support/ids.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';
import { NO_API_RATE_LIMIT, startReceiver, type WebhookReceiver } from './resilience/resilience-support.js';

/*
 * The webhook body's task and GraphQL's Task come from one serializer (tasks/public.ts): a delivery
 * carries exactly what task(id:) answers, progress included.
 */

/** Every field of the webhook body's task, selected over GraphQL. */
const PUBLIC_TASK_FIELDS = `id kind provider model status statusMessage progress externalTaskId providerTaskId
  videos { id url watermarkUrl durationSeconds providerUrl providerWatermarkUrl providerUrlExpiresAt archiveStatus }
  audios { id mp3Url wavUrl mp3DurationSeconds wavDurationSeconds providerUrl providerMp3Url providerWavUrl
    providerUrlExpiresAt archiveStatus }
  error { code message providerCode } cost { units } createdAt updatedAt completedAt
  attempts { provider outcome code message at } route`;
const TASK = `query ($id: ID!) { task(id: $id) { ${PUBLIC_TASK_FIELDS} events { edges { node { cursor status } } } } }`;

let stack: Stack;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startStack({ env: { ...NO_API_RATE_LIMIT, WEBHOOK_ALLOW_ORIGINS: receiver.origin } });
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
});

describe('webhook task payload', () => {
  it('is the task as GraphQL gives it: a SUCCEEDED task the provider gave no progress for has progress 1 in both', async () => {
    const input = { ...SAMPLE_INPUT, provider: 'KLING', webhookUrl: receiver.url('/view') };
    const created = await stack.gql(CREATE_AVATAR, { input });
    const id = created.data!.createAvatarVideo.id as string;
    await stack.waitForFinal(id, 'status');
    const delivered = () => receiver.on('/view').filter((d) => d.answered < 300);
    // Four status changes, then the outputs archived.
    await eventually(async () => (delivered().length === 5 ? true : null), 10_000, 'every event delivered');

    // As a provider that reports no progress leaves it; then the SUCCEEDED event delivered again.
    await stack.app.db.db
      .update(tasks)
      .set({ progress: null })
      .where(eq(tasks.id, uuidOf(id)));
    const { task: graphql } = (await stack.gql(TASK, { id })).data!;
    // The last SUCCEEDED event (the outputs archived), delivered again.
    const succeeded = graphql.events.edges.findLast((e: any) => e.node.status === 'SUCCEEDED').node;
    const log = await stack.gql(
      'query ($id: ID!) { webhookDeliveries(taskId: $id) { edges { node { id event { cursor } } } } }',
      { id },
    );
    const first = log.data!.webhookDeliveries.edges.find((e: any) => e.node.event.cursor === succeeded.cursor).node;
    const again = await stack.gql('mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }', { id: first.id });
    expect(again.data?.redeliverWebhook?.id, JSON.stringify(again)).toBeDefined();
    await eventually(async () => (delivered().length === 6 ? true : null), 10_000, 'the redelivery');

    const body = delivered().at(-1)!.json;
    expect(body.data.event).toMatchObject({ status: 'SUCCEEDED', type: 'OUTPUTS_ARCHIVED' });
    expect(body.data.task.videos[0].archiveStatus).toBe('ARCHIVED');
    const { events: _events, ...fields } = graphql;
    expect(fields.progress).toBe(1);
    expect(body.data.task.progress).toBe(fields.progress);
    expect(body.data.task).toEqual(fields);
  });
});
