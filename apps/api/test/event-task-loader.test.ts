import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_ONLY } from './resilience/resilience-support.js';
import { CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * TaskEvent.task goes through a DataLoader: a page of events reads their tasks in one query, not one
 * per event. The statements are counted at the database client: PGlite's query(), or on a Postgres
 * server postgres.js's unsafe() — on the pool and on the connections a tenant's reads reserve.
 */
type Method = (...args: unknown[]) => unknown;
type Recorder = { texts: string[]; restore: () => void };

function recordStatements(stack: Stack): Recorder {
  const texts: string[] = [];
  const restores: (() => void)[] = [];
  const wrap = (target: Record<string, Method>, method: string, around: (original: Method) => Method) => {
    const own = Object.hasOwn(target, method);
    const value = target[method]!;
    target[method] = around(value.bind(target));
    restores.push(() => {
      if (own) target[method] = value;
      else delete target[method]; // back to the prototype's
    });
  };
  const record = (target: Record<string, Method>, method: string) =>
    wrap(target, method, (original) => (text, ...rest) => {
      texts.push(String(text));
      return original(text, ...rest);
    });
  const client = (stack.app.db.db as unknown as { $client: Record<string, Method> }).$client;
  if (stack.app.db.driver === 'postgres') {
    record(client, 'unsafe');
    wrap(client, 'reserve', (original) => async () => {
      const connection = (await original()) as Record<string, Method>;
      record(connection, 'unsafe');
      return connection;
    });
  } else {
    record(client, 'query');
  }
  return { texts, restore: () => restores.reverse().forEach((restore) => restore()) };
}

describe('TaskEvent.task', () => {
  let stack: Stack;
  let taskId: string;
  beforeAll(async () => {
    // No output archive: its job reads the task after SUCCEEDED, which would be counted below.
    stack = await startStack({ env: { ...ENGINE_ONLY } });
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
    const statements = recordStatements(stack);
    try {
      const res = await stack.gql(EVENTS, { id: taskId });
      expect(res.errors).toBeUndefined();
      const nodes = res.data!.task.events.edges.map((e: { node: { task: { id: string } } }) => e.node);
      expect(nodes.length).toBeGreaterThanOrEqual(3);
      for (const node of nodes) expect(node.task).toEqual({ id: taskId, status: 'SUCCEEDED', progress: 1 });
      // One read for task(id:), one for the tasks of every event on the page (before: one per event).
      const taskReads = statements.texts.filter((text) => /from "tasks"/i.test(text));
      expect(taskReads).toHaveLength(2);
    } finally {
      statements.restore();
    }
  });
});
