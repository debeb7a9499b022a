import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_ONLY } from './resilience/resilience-support.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    kling: { timing: { processingAfterMs: 50, succeedAfterMs: 100 } },
    // 200 subscribes on one key; the feed's mechanics without the archive's extra SUCCEEDED event.
    env: { API_RATE_LIMIT_BURST: '1000', ...ENGINE_ONLY },
  });
});
afterAll(() => stack?.stop());

describe('tenant feed fan-out', () => {
  it('200 subscribers on one feed each get every event once, while the database is read, and each event executed and serialized, once per change, not once per subscriber', async () => {
    const SUBSCRIBERS = 200;
    const received: number[][] = Array.from({ length: SUBSCRIBERS }, () => []);
    const client = stack.ws();
    const latest = await stack.gql('{ latestTaskEventCursor }');
    const after = latest.data!.latestTaskEventCursor as string | null;
    for (let i = 0; i < SUBSCRIBERS; i++) {
      client.subscribe<{ taskEvents: { cursor: string } }>(
        { query: 'subscription ($after: String) { taskEvents(after: $after) { cursor } }', variables: { after } },
        { next: (v) => received[i]!.push(Number(v.data!.taskEvents.cursor)), error: () => {}, complete: () => {} },
      );
    }
    await eventually(
      async () => (stack.app.feeds.subscriberCount === SUBSCRIBERS ? true : null),
      10_000,
      'all subscribed',
    );
    const readsBefore = { ...stack.app.feeds.reads };
    const deliveryBefore = { ...stack.app.delivery.counts };

    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT } })).data!.createAvatarVideo.id);
    for (const id of ids) await stack.waitForFinal(id, 'id');
    const events = await eventually(
      async () => {
        const all: number[] = [];
        for (const id of ids) {
          const res = await stack.gql('query ($id: ID!) { task(id: $id) { events { edges { node { cursor } } } } }', {
            id,
          });
          all.push(...res.data!.task.events.edges.map((x: { node: { cursor: string } }) => Number(x.node.cursor)));
        }
        all.sort((a, b) => a - b);
        return received.every((r) => r.length >= all.length) ? all : null;
      },
      10_000,
      'every subscriber to receive every event',
    );

    for (const r of received) expect(r).toEqual(events);
    const shared = stack.app.feeds.reads.shared - readsBefore.shared;
    const catchUp = stack.app.feeds.reads.catchUp - readsBefore.catchUp;
    expect(catchUp).toBe(0);
    expect(shared).toBeGreaterThan(0);
    expect(shared).toBeLessThanOrEqual(events.length * 2); // not SUBSCRIBERS × events
    // One execution (and one JSON) per event for all 200 (same document, variables and key)…
    expect(stack.app.delivery.counts.executions - deliveryBefore.executions).toBe(events.length);
    expect(stack.app.delivery.counts.sent - deliveryBefore.sent).toBe(events.length * SUBSCRIBERS);
  });

  it('subscriptions that differ (selection, variables) are executed apart and each gets its own shape', async () => {
    const client = stack.ws();
    const latest = (await stack.gql('{ latestTaskEventCursor }')).data!.latestTaskEventCursor as string | null;
    const subscribedBefore = stack.app.feeds.subscriberCount;
    const a: unknown[] = [];
    const b: unknown[] = [];
    const c: unknown[] = [];
    const sink = (into: unknown[]) => ({
      next: (v: { data?: unknown }) => void into.push(v.data),
      error: () => {},
      complete: () => {},
    });
    client.subscribe(
      { query: 'subscription ($after: String) { taskEvents(after: $after) { status } }', variables: { after: latest } },
      sink(a),
    );
    client.subscribe(
      {
        query: 'subscription ($after: String) { taskEvents(after: $after) { cursor status } }',
        variables: { after: latest },
      },
      sink(b),
    );
    client.subscribe(
      {
        query:
          'subscription ($after: String) { taskEvents(after: $after, filter: { statuses: [SUCCEEDED] }) { status } }',
        variables: { after: latest },
      },
      sink(c),
    );
    await eventually(
      async () => (stack.app.feeds.subscriberCount === subscribedBefore + 3 ? true : null),
      10_000,
      'the three subscribed',
    );
    const id = (await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT } })).data!.createAvatarVideo.id;
    // Three or four events (PROCESSING is skipped when Kling finishes before the refresh reads it): as many as the task has.
    const final = await stack.waitForFinal(id, 'events { edges { node { status } } }');
    const n = final.events.edges.length;
    await eventually(async () => (a.length >= n && b.length >= n && c.length >= 1 ? true : null), 10_000, 'the events');
    expect(a.map((x: any) => Object.keys(x.taskEvents))).toEqual(a.map(() => ['status']));
    expect(b.map((x: any) => Object.keys(x.taskEvents))).toEqual(b.map(() => ['cursor', 'status']));
    expect(b.map((x: any) => x.taskEvents.status)).toEqual(a.map((x: any) => x.taskEvents.status));
    expect(c).toEqual([{ taskEvents: { status: 'SUCCEEDED' } }]);
  });
});
