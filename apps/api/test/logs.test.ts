import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_KLING_API_KEY } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * The log tells a task's story at `info`: its creation (with the request it came from), each status
 * change with its source, and one line per HTTP request — every task line carrying the task and its
 * tenant — and never a secret (API key, callback token, provider key).
 */
const lines: Record<string, any>[] = [];
const raw: string[] = [];
let stack: Stack;
beforeAll(async () => {
  const log = createLogger('info', {
    write: (line: string) => {
      raw.push(line);
      lines.push(JSON.parse(line));
    },
  });
  stack = await startStack({ log });
});
afterAll(() => stack?.stop());

describe('the log of one task', () => {
  it('has its creation, every status change with its source, and no secret', async () => {
    const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: 'logged' } });
    const id = res.data!.createAvatarVideo.id as string;
    const final = await stack.waitForFinal(id, 'events { edges { node { status type } } }');
    // Its status changes (the outputs' archive, a later event of its own, is not a status change).
    const statuses = final.events.edges
      .filter((e: { node: { type: string } }) => e.node.type === 'STATUS_CHANGED')
      .map((e: { node: { status: string } }) => e.node.status) as string[];
    const [row] = await stack.app.db.db.query.tasks.findMany({ where: (t, { eq }) => eq(t.externalTaskId, 'logged') });
    const taskId = row!.id;
    const story = () => lines.filter((l) => l.taskId === taskId);
    await eventually(
      async () => story().filter((l) => l.msg.startsWith('task ')).length >= statuses.length,
      5000,
      'the lines',
    );

    const created = story().find((l) => l.msg === 'task created')!;
    expect(created).toMatchObject({ level: 30, tenant: row!.tenantId, provider: 'KLING', externalTaskId: 'logged' });
    expect(created.requestId).toMatch(/^[\w-]{8,}$/);
    // Each field once (a child logger's fields are not repeated by the line's own).
    for (const line of raw.filter((l) => l.includes(taskId)))
      expect(line.match(/"tenant":/g)?.length ?? 0).toBeLessThanOrEqual(1);
    // The request that created it is on the log under the same id.
    const request = lines.find((l) => l.msg === 'request' && l.requestId === created.requestId)!;
    expect(request).toMatchObject({
      method: 'POST',
      route: '/graphql',
      status: 200,
      keyPrefix: stack.apiKey.slice(0, 12),
    });
    const changes = story().filter((l) => /^task (SUBMITTED|PROCESSING|SUCCEEDED|FAILED)$/.test(l.msg));
    expect(changes.map((l) => l.status)).toEqual(statuses.slice(1));
    for (const l of changes) expect(l).toMatchObject({ tenant: row!.tenantId, source: expect.any(String) });

    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    const tokens = stack.sim.kling.sentCallbacks().map((c) => c.url.split('/').at(-1)!);
    expect(tokens.length).toBeGreaterThan(0);
    for (const secret of [stack.apiKey, SANDBOX_KLING_API_KEY, ...tokens]) expect(text).not.toContain(secret);
  });
});
