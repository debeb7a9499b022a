import { tasks } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, fixture, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * A create is idempotent by externalTaskId: the same input again answers the task it made (a client
 * that lost the answer can always retry), another input under that id is a DuplicateExternalTaskId
 * naming the existing task — and in either case nothing more is stored or sent upstream.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function rowsWith(externalTaskId: string) {
  return stack.app.db.db.select().from(tasks).where(eq(tasks.externalTaskId, externalTaskId));
}

const create = (input: Record<string, unknown>) => stack.gql(CREATE_AVATAR, { input });

describe('create with an externalTaskId already used', () => {
  it('the same input again answers the same task, which is submitted once', async () => {
    const input = { ...SAMPLE_INPUT, prompt: 'hello', externalTaskId: 'idem-1' };
    const first = (await create(input)).data!.createAvatarVideo;
    expect(first.__typename).toBe('Task');
    const final = await stack.waitForFinal(first.id, 'id status');
    const again = (await create(input)).data!.createAvatarVideo;
    expect(again).toMatchObject({ __typename: 'Task', id: first.id, status: final.status });
    expect(await rowsWith('idem-1')).toHaveLength(1);
    const [row] = await rowsWith('idem-1');
    expect(stack.sim.kling.createsFor(row!.id)).toBe(1);
  });

  it('two identical creates at once: one task, both answered with it', async () => {
    const input = { ...SAMPLE_INPUT, externalTaskId: 'idem-race' };
    const [a, b] = await Promise.all([create(input), create(input)]);
    expect(a.data!.createAvatarVideo.__typename).toBe('Task');
    expect(b.data!.createAvatarVideo.__typename).toBe('Task');
    expect(a.data!.createAvatarVideo.id).toBe(b.data!.createAvatarVideo.id);
    expect(await rowsWith('idem-race')).toHaveLength(1);
  });

  it('another input under the same id (other media, options or webhook) is a duplicate naming the task', async () => {
    const input = { ...SAMPLE_INPUT, externalTaskId: 'idem-2' };
    const first = (await create(input)).data!.createAvatarVideo;
    const variants = [
      { ...input, prompt: 'different' },
      { ...input, image: { base64: fixture('landscape-600x400.jpg').toString('base64') } },
      { ...input, kling: { mode: 'PRO' } },
      { ...input, webhookUrl: 'https://hooks.example.com/a' },
    ];
    for (const variant of variants) {
      const res = (await create(variant)).data!.createAvatarVideo;
      expect(res, JSON.stringify(Object.keys(variant))).toMatchObject({
        __typename: 'DuplicateExternalTaskId',
        externalTaskId: 'idem-2',
        task: { id: first.id },
      });
      expect(res.message).toContain('created from another input');
    }
    expect(await rowsWith('idem-2')).toHaveLength(1);
  });
});
