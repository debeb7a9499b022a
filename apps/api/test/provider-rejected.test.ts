import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const CREATE = CREATE_AVATAR.replace(
  '... on DuplicateExternalTaskId',
  '... on ProviderRejected { provider providerCode message } ... on DuplicateExternalTaskId',
);

describe('account-level refusals', () => {
  it('after Kling refuses a task for the account (1102), new Kling tasks get ProviderRejected at once while other providers still work', async () => {
    stack.sim.kling.setNextCreateError({ httpStatus: 429, code: 1102, message: 'resource pack exhausted' });
    const first = await stack.gql(CREATE, { input: { ...SAMPLE_INPUT } });
    const final = await stack.waitForFinal(first.data!.createAvatarVideo.id, 'error { providerCode }');
    expect(final).toMatchObject({ status: 'FAILED', error: { providerCode: '1102' } });

    const before = stack.sim.kling.createCount();
    const second = await stack.gql(CREATE, { input: { ...SAMPLE_INPUT, externalTaskId: 'after-1102' } });
    expect(second.data!.createAvatarVideo).toMatchObject({
      __typename: 'ProviderRejected',
      provider: 'KLING',
      providerCode: '1102',
    });
    const found = await stack.gql('{ task(externalTaskId: "after-1102") { id } }');
    expect(found.data!.task).toBeNull();
    expect(stack.sim.kling.createCount()).toBe(before);

    const kie = await stack.gql(CREATE, { input: { ...SAMPLE_INPUT, provider: 'KIE', prompt: 'p' } });
    expect(kie.data!.createAvatarVideo.__typename).toBe('Task');
  });
});
