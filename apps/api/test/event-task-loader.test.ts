import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * TaskEvent.task goes through a DataLoader: a page of events reads their tasks in one query, not one
 * per event. The statements are counted at the database client (PGlite's query(); on a Postgres
 * server a tenant's reads go out on reserved connections, which this spy does not see).
 */
describe.skipIf(process.env.DATABASE_URL)('TaskEvent.task', () => {
  let stack: Stack;
  let taskId: string;
  beforeAll(async () => {
    stack = await startStack();
    const created = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: 'loader' } });
    taskId = created.data!.createAvatarVideo.id;
    await stack.waitForFinal(taskId, 'status');
  });
  afterAll(() => stack?.stop());

  const EVENTS = /* GraphQL */ `
    query Events($id: ID!) {
      task(id: $id) {
        events(first: 20) { edges { node { status task { id status progress } } } }
      }
    }
  `;

  it('loads the tasks of a page of events in one query', async () => {
    const client = (stack.app.db.db as unknown as { $client: { query: (text: string) => Promise<unknown> } }).$client;
    const query = vi.spyOn(client, 'query');
    try {
      const res = await stack.gql(EVENTS, { id: taskId });
      expect(res.errors).toBeUndefined();
      const nodes = res.data!.task.events.edges.map((e: { node: { task: { id: string } } }) => e.node);
      expect(nodes.length).toBeGreaterThanOrEqual(3);
      for (const node of nodes) expect(node.task).toEqual({ id: taskId, status: 'SUCCEEDED', progress: 1 });
      // One read for task(id:), one for the tasks of every event on the page (before: one per event).
      const taskReads = query.mock.calls.filter(([text]) => /from "tasks"/i.test(String(text)));
      expect(taskReads).toHaveLength(2);
    } finally {
      query.mockRestore();
    }
  });
});
