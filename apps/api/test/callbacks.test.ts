import { createHash } from 'node:crypto';
import { taskEvents, tasks } from '@clipwire/schema/tables';
import { and, asc, eq } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ kling: { timing: { processingAfterMs: 200, succeedAfterMs: 500 } } });
});
afterAll(() => stack?.stop());

async function createTask(externalTaskId: string): Promise<string> {
  const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId } });
  expect(res.data?.createAvatarVideo.__typename).toBe('Task');
  const row = await eventually(
    async () => {
      const [t] = await stack.app.db.db.select().from(tasks).where(eq(tasks.externalTaskId, externalTaskId));
      return t && t.status !== 'PENDING' ? t : null;
    },
    10_000,
    'submission',
  );
  return row.id;
}

async function snapshot(taskId: string) {
  const db = stack.app.db.db;
  const [task] = await db.select().from(tasks).where(eq(tasks.id, taskId));
  // Status changes only (a SUCCEEDED task's outputs archived is an event of its own type).
  const events = await db
    .select()
    .from(taskEvents)
    .where(and(eq(taskEvents.taskId, taskId), eq(taskEvents.type, 'STATUS_CHANGED')))
    .orderBy(asc(taskEvents.id));
  return { task, events };
}

/** The callbacks the simulator sent for one task (their URLs carry the task's token). */
function callbacksFor(taskId: string) {
  return stack.sim.kling
    .sentCallbacks()
    .filter((c) => (c.body as { task_info?: { external_task_id?: string } }).task_info?.external_task_id === taskId);
}

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('Kling callbacks', () => {
  it('every callback replayed five times, concurrently and shuffled, leaves exactly one event per transition', async () => {
    const id = await createTask('cb-replay');
    await eventually(async () => (await snapshot(id)).task?.status === 'SUCCEEDED', 10_000, 'success');
    const sent = await eventually(
      async () => (callbacksFor(id).length === 3 ? callbacksFor(id) : null),
      5000,
      'three callbacks',
    );
    expect(sent.map((c) => (c.body as { task_status: string }).task_status)).toEqual([
      'submitted',
      'processing',
      'succeed',
    ]);

    // Before the replays: PENDING, SUBMITTED, PROCESSING, SUCCEEDED — without PROCESSING when the
    // 'processing' callback found the task still PENDING (its submission not yet recorded, on a loaded
    // machine) and the refresh it queued read Kling's API after it had finished.
    const before = (await snapshot(id)).events.map((e) => e.status);
    expect([
      ['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED'],
      ['PENDING', 'SUBMITTED', 'SUCCEEDED'],
    ]).toContainEqual(before);

    const replays = shuffle(sent.flatMap((c) => Array.from({ length: 5 }, () => c)));
    const answers = await Promise.all(
      replays.map((c) => post(c.url, JSON.stringify(c.body)).then((r) => r.statusCode)),
    );
    expect(answers.every((s) => s === 200)).toBe(true);

    const { task, events } = await snapshot(id);
    expect(task!.status).toBe('SUCCEEDED');
    expect(events.map((e) => e.status)).toEqual(before); // the replays added nothing
  });

  it('a stale or out-of-order callback never moves a task backwards', async () => {
    // Callbacks lost: the task stays SUBMITTED on our side while Kling finishes it.
    stack.sim.kling.setCallbacksEnabled(false);
    try {
      const id = await createTask('cb-stale');
      const before = await snapshot(id);
      expect(before.task!.status).toBe('SUBMITTED');
      const token = tokenOf(before.task!.callbackTokenHash, id);
      await new Promise((r) => setTimeout(r, 800)); // Kling is at 'succeed' now

      // A late 'processing' callback arrives first, then a stale 'submitted' one.
      const body = (status: string) =>
        JSON.stringify({
          task_id: before.task!.providerTaskId,
          task_status: status,
          task_info: { external_task_id: id },
          created_at: Date.now(),
          updated_at: Date.now(),
        });
      expect((await post(`${stack.url}/callbacks/kling/${token}`, body('processing'))).statusCode).toBe(200);
      expect((await post(`${stack.url}/callbacks/kling/${token}`, body('submitted'))).statusCode).toBe(200);

      // Both are acknowledged at once; the job that follows reads Kling's API, not the stale bodies.
      const after = await eventually(
        async () => {
          const s = await snapshot(id);
          return s.task!.status === 'SUCCEEDED' ? s : null;
        },
        5000,
        'the refresh job',
      );
      expect(after.events.map((e) => e.status)).toEqual(['PENDING', 'SUBMITTED', 'SUCCEEDED']);
      expect(after.events.at(-1)!.source).toBe('CALLBACK');
    } finally {
      stack.sim.kling.setCallbacksEnabled(true);
    }
  });

  it('a callback with a wrong token, a malformed body, another task’s body or an oversized body changes nothing', async () => {
    stack.sim.kling.setCallbacksEnabled(false);
    try {
      const id = await createTask('cb-forged');
      const other = await createTask('cb-forged-other');
      const before = await snapshot(id);
      const token = tokenOf(before.task!.callbackTokenHash, id);
      await new Promise((r) => setTimeout(r, 800));
      const good = JSON.stringify({
        task_id: before.task!.providerTaskId,
        task_status: 'succeed',
        task_info: { external_task_id: id },
      });

      const wrongToken = await post(`${stack.url}/callbacks/kling/${'x'.repeat(43)}`, good);
      expect(wrongToken.statusCode).toBe(404);
      const garbageToken = await post(`${stack.url}/callbacks/kling/..%2F..%2Fetc`, good);
      expect(garbageToken.statusCode).toBe(404);
      const malformed = await post(`${stack.url}/callbacks/kling/${token}`, '{"task_id": 12, ');
      expect(malformed.statusCode).toBe(400);
      const otherTask = JSON.stringify({
        task_id: 'someone-else',
        task_status: 'succeed',
        task_info: { external_task_id: other },
      });
      expect((await post(`${stack.url}/callbacks/kling/${token}`, otherTask)).statusCode).toBe(400);
      const huge = JSON.stringify({
        task_id: before.task!.providerTaskId,
        task_status: 'succeed',
        pad: 'x'.repeat(70 * 1024),
      });
      expect((await post(`${stack.url}/callbacks/kling/${token}`, huge)).statusCode).toBe(413);
      const unknownProvider = await post(`${stack.url}/callbacks/nobody/${token}`, good);
      expect(unknownProvider.statusCode).toBe(404);

      expect(await snapshot(id)).toEqual(before);

      // The right token with a well-formed body is accepted, and the result comes from Kling's API.
      expect((await post(`${stack.url}/callbacks/kling/${token}`, good)).statusCode).toBe(200);
      await eventually(async () => (await snapshot(id)).task!.status === 'SUCCEEDED', 5000, 'the refresh job');
    } finally {
      stack.sim.kling.setCallbacksEnabled(true);
    }
  });

  it('stores only the hash of the callback token', async () => {
    const id = await createTask('cb-hash');
    const { task } = await snapshot(id);
    const token = tokenOf(task!.callbackTokenHash, id);
    expect(task!.callbackTokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(task)).not.toContain(token);
  });
});

/** Recovers a task's callback token from the create request the simulator received, checking it against the stored hash. */
function tokenOf(hash: string | null, taskId: string): string {
  const url = stack.sim.kling.lastCreateBody(taskId)?.callback_url;
  if (typeof url !== 'string') throw new Error('the simulator saw no callback_url for this task');
  const token = url.split('/').at(-1)!;
  if (createHash('sha256').update(token).digest('hex') !== hash)
    throw new Error('token does not match the stored hash');
  return token;
}
