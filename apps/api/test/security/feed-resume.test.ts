import { taskEvents } from '@clipwire/schema/tables';
import { asc, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/**
 * The tenant feed: a subscriber that drops in the middle of 1000 events and resumes with `after`
 * receives each event exactly once, in order — while events keep being written.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    kling: { timing: { processingAfterMs: 20, succeedAfterMs: 40 } },
    env: { KLING_CONCURRENCY: '1000', API_RATE_LIMIT_BURST: '5000', API_RATE_LIMIT_PER_SECOND: '1000' },
  });
});
afterAll(() => stack?.stop());

const FEED = 'subscription ($after: String) { taskEvents(after: $after) { cursor status } }';
// Three or four events each (PROCESSING may be skipped when Kling is that fast): over 1000 events.
const TASKS = 350;

async function createTasks(n: number): Promise<void> {
  for (let i = 0; i < n; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, () =>
        stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, kling: { audioId: 'tts' }, audio: undefined } }),
      ),
    );
  }
}

describe('taskEvents feed', () => {
  it('resumes after a disconnect in the middle of 1000 events with every event exactly once, in order', {
    timeout: 120_000,
  }, async () => {
    const seen: number[] = [];
    // First connection: live from the start, dropped after 400 events.
    const first = stack.ws();
    const dropped = new Promise<void>((resolve) => {
      const stop = first.subscribe<{ taskEvents: { cursor: string } }>(
        { query: FEED },
        {
          next: (v) => {
            seen.push(Number(v.data!.taskEvents.cursor));
            if (seen.length === 400) {
              stop();
              void first.dispose();
              resolve();
            }
          },
          error: () => {},
          complete: () => {},
        },
      );
    });
    const writing = createTasks(TASKS);
    await dropped;

    // Second connection, resuming from the last cursor seen, while tasks are still being written.
    const resumed = stack.ws();
    resumed.subscribe<{ taskEvents: { cursor: string } }>(
      { query: FEED, variables: { after: String(seen.at(-1)) } },
      { next: (v) => seen.push(Number(v.data!.taskEvents.cursor)), error: () => {}, complete: () => {} },
    );
    await writing;
    const all = await eventually(
      async () => {
        // Finished first, then the events: once every task has succeeded no event is written any more,
        // so the list read after it is complete (read before it, a task's last events could be missing).
        const done = await stack.app.db.db.execute(
          sql`select count(*)::int as n from tasks where status <> 'SUCCEEDED'`,
        );
        const pending = (Array.isArray(done) ? done : (done as { rows: { n: number }[] }).rows)[0] as { n: number };
        if (pending.n !== 0) return null;
        const rows = await stack.app.db.db.select({ id: taskEvents.id }).from(taskEvents).orderBy(asc(taskEvents.id));
        return seen.length >= rows.length ? rows.map((r) => r.id) : null;
      },
      60_000,
      'all tasks to finish and every event to be received',
    );

    expect(all.length).toBeGreaterThanOrEqual(1000);
    expect(seen).toEqual(all); // every event, once, in order
  });
});
