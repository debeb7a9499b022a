import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type WebhookReceiver } from '../resilience/resilience-support.js';
import { eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/*
 * Routing with fallback (README, "Routing"): a task on a route goes to the first provider that can take
 * it, and moves on only when a provider provably did not accept it. Every case counts the creates each
 * simulator accepted: exactly one across the route.
 */

const CREATE = /* GraphQL */ `
  mutation Create($input: CreateAvatarVideoInput!) {
    createAvatarVideo(input: $input) {
      __typename
      ... on Task { id status provider route attempts { provider outcome code message } }
      ... on ValidationError { message issues { path message } }
      ... on ProviderRejected { rejectedBy: provider providerCode }
    }
  }
`;
const FINAL_FIELDS = `provider providerTaskId model route input attempts { provider outcome code message at }
  events(first: 50) { edges { node { type status source message } } }`;

const KIE_INPUT = { ...SAMPLE_INPUT, prompt: 'a friendly greeting' };

/** Creates each simulator accepted so far. */
function accepted(stack: Stack) {
  return {
    KLING: stack.sim.kling.createCount(),
    KIE: stack.sim.kie.createCount(),
    DIGITAL_HUMAN: stack.sim.digitalHuman.createCount(),
  };
}

function delta(before: ReturnType<typeof accepted>, after: ReturnType<typeof accepted>) {
  return {
    KLING: after.KLING - before.KLING,
    KIE: after.KIE - before.KIE,
    DIGITAL_HUMAN: after.DIGITAL_HUMAN - before.DIGITAL_HUMAN,
  };
}

async function create(stack: Stack, input: Record<string, unknown>) {
  const res = await stack.gql(CREATE, { input });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data!.createAvatarVideo as Record<string, any>;
}

describe('routing: refusals and unavailability', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      env: { WEBHOOK_ALLOW_ORIGINS: receiver.origin, ARCHIVE_OUTPUTS: 'false' },
      // Moving on after its third failed create keeps the test short; the retries themselves are tested elsewhere.
      engine: { routeSubmitAttempts: 2 },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
  });

  it('a provider unavailable after its retries (503) hands the task to the next one: one create accepted, by KIE', async () => {
    stack.sim.kling.failNext({ status: 503, count: 2 });
    const before = accepted(stack);
    const task = await create(stack, { ...KIE_INPUT, route: ['KLING', 'KIE'] });
    expect(task).toMatchObject({ __typename: 'Task', provider: 'KLING', route: ['KIE'] });
    const final = await stack.waitForFinal(task.id, FINAL_FIELDS);
    expect(final.status).toBe('SUCCEEDED');
    expect(final.provider).toBe('KIE');
    expect(final.model).toMatch(/^infinitalk/);
    expect(final.route).toEqual([]);
    expect(final.attempts.map((a: any) => [a.provider, a.outcome])).toEqual([
      ['KLING', 'UNAVAILABLE'],
      ['KIE', 'ACCEPTED'],
    ]);
    expect(delta(before, accepted(stack))).toEqual({ KLING: 0, KIE: 1, DIGITAL_HUMAN: 0 });
    const routed = final.events.edges.filter((e: any) => e.node.type === 'ROUTED');
    expect(routed).toHaveLength(1);
    expect(routed[0].node).toMatchObject({ status: 'PENDING', source: 'SYSTEM' });
    expect(routed[0].node.message).toMatch(/KLING unavailable.*trying KIE/);
  });

  it('an input-level refusal (Kling 1201) stops the route: FAILED, and KIE never sees the task', async () => {
    stack.sim.kling.setNextCreateError({ httpStatus: 400, code: 1201, message: 'image resolution too low' });
    const before = accepted(stack);
    const task = await create(stack, { ...KIE_INPUT, route: ['KLING', 'KIE'] });
    const final = await stack.waitForFinal(task.id, `${FINAL_FIELDS} error { code providerCode }`);
    expect(final).toMatchObject({ status: 'FAILED', provider: 'KLING', error: { providerCode: '1201' } });
    expect(final.route).toEqual(['KIE']);
    expect(final.attempts.map((a: any) => [a.provider, a.outcome, a.code])).toEqual([['KLING', 'REFUSED', '1201']]);
    expect(delta(before, accepted(stack))).toEqual({ KLING: 0, KIE: 0, DIGITAL_HUMAN: 0 });
    expect(final.events.edges.some((e: any) => e.node.type === 'ROUTED')).toBe(false);
  });

  it('an account refusal (Kling 1102) moves the task on with a ROUTED webhook; the next route starts past Kling', async () => {
    stack.sim.kling.setNextCreateError({ httpStatus: 429, code: 1102, message: 'resource pack exhausted' });
    const before = accepted(stack);
    const webhookUrl = receiver.url('/routed');
    const task = await create(stack, { ...KIE_INPUT, route: ['KLING', 'KIE'], webhookUrl });
    const final = await stack.waitForFinal(task.id, FINAL_FIELDS);
    expect(final).toMatchObject({ status: 'SUCCEEDED', provider: 'KIE' });
    expect(final.attempts.map((a: any) => [a.provider, a.outcome, a.code])).toEqual([
      ['KLING', 'REFUSED', '1102'],
      ['KIE', 'ACCEPTED', null],
    ]);
    expect(delta(before, accepted(stack))).toEqual({ KLING: 0, KIE: 1, DIGITAL_HUMAN: 0 });
    // The move reached the partner as its own signed event, with the route in the task.
    const routed = await eventually(
      async () => receiver.deliveries.find((d) => d.path === '/routed' && d.json?.type === 'task.routed'),
      15_000,
      'a task.routed webhook',
    );
    expect(routed.json.data.task).toMatchObject({ provider: 'KIE', route: [] });
    expect(routed.json.data.task.attempts[0]).toMatchObject({ provider: 'KLING', outcome: 'REFUSED', code: '1102' });

    // Kling is now refusing the account: a new route skips it at once, sending it nothing.
    const next = await create(stack, { ...KIE_INPUT, route: ['KLING', 'KIE'] });
    expect(next).toMatchObject({ __typename: 'Task', provider: 'KIE', route: [] });
    expect(next.attempts[0]).toMatchObject({ provider: 'KLING', outcome: 'SKIPPED', code: '1102' });
    const done = await stack.waitForFinal(next.id, FINAL_FIELDS);
    expect(done).toMatchObject({ status: 'SUCCEEDED', provider: 'KIE' });
    expect(delta(before, accepted(stack))).toEqual({ KLING: 0, KIE: 2, DIGITAL_HUMAN: 0 });
    // A route of Kling alone is refused as before.
    const alone = await create(stack, { ...KIE_INPUT, prompt: undefined, route: ['KLING'] });
    expect(alone).toMatchObject({ __typename: 'ProviderRejected', rejectedBy: 'KLING', providerCode: '1102' });
  });
});

describe('routing: what the create checks', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { ARCHIVE_OUTPUTS: 'false' } });
  });
  afterAll(() => stack?.stop());

  it('a provider whose limits the input breaks is dropped with a note; none left is a ValidationError naming each', async () => {
    const long = 'x'.repeat(3000); // over Kling's 2500, within KIE's 5000
    const task = await create(stack, { ...SAMPLE_INPUT, prompt: long, route: ['KLING', 'KIE'] });
    expect(task).toMatchObject({ __typename: 'Task', provider: 'KIE', route: [] });
    expect(task.attempts[0]).toMatchObject({ provider: 'KLING', outcome: 'SKIPPED', code: 'INPUT_LIMITS' });
    expect(task.attempts[0].message).toMatch(/prompt must be at most 2500 characters/);

    const tooLong = await create(stack, { ...SAMPLE_INPUT, prompt: 'x'.repeat(6000), route: ['KLING', 'KIE'] });
    expect(tooLong.__typename).toBe('ValidationError');
    const messages = tooLong.issues.map((i: any) => `${i.path.join('.')} ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^input\.prompt KLING: must be at most 2500/),
        expect.stringMatching(/^input\.prompt KIE: must be at most 5000/),
      ]),
    );
    const found = await stack.gql('{ tasks(first: 10) { edges { node { id } } } }');
    expect(found.data!.tasks.edges).toHaveLength(1); // the refused create stored nothing
  });

  it('provider and route together, a provider named twice, and options for a provider off the route are refused by name', async () => {
    const both = await create(stack, { ...KIE_INPUT, provider: 'KIE', route: ['KIE'] });
    expect(both.issues).toEqual([{ path: ['input', 'route'], message: 'give either provider or route, not both' }]);
    const twice = await create(stack, { ...KIE_INPUT, route: ['KIE', 'KIE'] });
    expect(twice.issues).toEqual([{ path: ['input', 'route'], message: 'must not name a provider twice' }]);
    const off = await create(stack, { ...KIE_INPUT, route: ['KIE', 'KLING'], digitalHuman: { noWatermark: true } });
    expect(off.issues).toEqual([
      { path: ['input', 'digitalHuman'], message: 'applies only when DIGITAL_HUMAN is on the route' },
    ]);
  });

  it('each provider takes only its own options: Kling runs pro, KIE would have run 720p', async () => {
    const task = await create(stack, {
      ...KIE_INPUT,
      route: ['KLING', 'KIE'],
      kling: { mode: 'PRO' },
      kie: { resolution: 'RES_720P' },
    });
    const final = await stack.waitForFinal(task.id, FINAL_FIELDS);
    expect(final).toMatchObject({ status: 'SUCCEEDED', provider: 'KLING', model: 'kling-avatar-pro' });
    expect(final.input).toMatchObject({ route: ['KLING', 'KIE'], kling: { mode: 'pro' }, kie: { resolution: '720p' } });
    expect(stack.sim.kling.lastCreateBody(final.providerTaskId)).toMatchObject({ mode: 'pro' });
  });

  it('a tenant default route applies to creates naming neither provider nor route, and can be cleared', async () => {
    const SET = `mutation ($route: [Provider!]!) { setDefaultRoute(kind: AVATAR_VIDEO, route: $route) {
      __typename ... on DefaultRoute { kind route } ... on ValidationError { issues { path message } } } }`;
    const set = await stack.gql(SET, { route: ['KIE', 'KLING'] });
    expect(set.data!.setDefaultRoute).toEqual({
      __typename: 'DefaultRoute',
      kind: 'AVATAR_VIDEO',
      route: ['KIE', 'KLING'],
    });
    const listed = await stack.gql('{ defaultRoutes { kind route } }');
    expect(listed.data!.defaultRoutes).toEqual([{ kind: 'AVATAR_VIDEO', route: ['KIE', 'KLING'] }]);
    const task = await create(stack, KIE_INPUT);
    expect(task).toMatchObject({ __typename: 'Task', provider: 'KIE', route: ['KLING'] });
    // Naming a provider still means that provider alone.
    const named = await create(stack, { ...SAMPLE_INPUT, provider: 'KLING' });
    expect(named).toMatchObject({ provider: 'KLING', route: [] });

    const refused = await stack.gql(SET.replace('AVATAR_VIDEO', 'VIDEO_SOUND'), { route: ['KIE'] });
    expect(refused.data!.setDefaultRoute.issues).toEqual([
      { path: ['route'], message: 'KIE does not offer VIDEO_SOUND' },
    ]);

    await stack.gql(SET, { route: [] });
    expect((await stack.gql('{ defaultRoutes { kind } }')).data!.defaultRoutes).toEqual([]);
    const plain = await create(stack, SAMPLE_INPUT);
    expect(plain).toMatchObject({ provider: 'KLING', route: [] });
    // Another tenant never sees nor uses this tenant's routes.
    await stack.gql(SET, { route: ['KIE'] });
    const other = await stack.newTenant('routing-other');
    expect((await stack.gql('{ defaultRoutes { kind } }', {}, other.apiKey)).data!.defaultRoutes).toEqual([]);
    await stack.waitForAllFinal();
  });
});

describe('routing: busy providers and open circuits', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { KLING_CONCURRENCY: '1', ARCHIVE_OUTPUTS: 'false' },
      // Kling's one slot is held for the whole test by a task that takes 60 s.
      kling: { timing: { processingAfterMs: 300, succeedAfterMs: 60_000 } },
      engine: { routeWaitMs: 300 },
      // One failed call opens a circuit, which stays open for the test.
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 120_000 },
    });
  });
  afterAll(() => stack?.stop());

  it('a provider at its concurrency limit for ROUTE_WAIT_MS hands the task on (nothing was sent to it)', async () => {
    const holder = await create(stack, { ...SAMPLE_INPUT, provider: 'KLING' });
    await eventually(
      async () => (await stack.gql(`{ task(id: "${holder.id}") { status } }`)).data!.task.status !== 'PENDING',
      15_000,
      'the holder to take Kling’s only slot',
    );
    const before = accepted(stack);
    const task = await create(stack, { ...KIE_INPUT, route: ['KLING', 'KIE'] });
    const final = await stack.waitForFinal(task.id, FINAL_FIELDS);
    expect(final).toMatchObject({ status: 'SUCCEEDED', provider: 'KIE' });
    expect(final.attempts[0]).toMatchObject({ provider: 'KLING', outcome: 'UNAVAILABLE', code: 'BUSY' });
    expect(delta(before, accepted(stack))).toEqual({ KLING: 0, KIE: 1, DIGITAL_HUMAN: 0 });
  });

  it('an open circuit hands the task on, and a route created while it is open starts past it', async () => {
    stack.sim.kie.failNext({ status: 503, count: 1 });
    const before = accepted(stack);
    const task = await create(stack, { ...SAMPLE_INPUT, route: ['KIE', 'DIGITAL_HUMAN'], prompt: 'hello' });
    const final = await stack.waitForFinal(task.id, FINAL_FIELDS);
    expect(final).toMatchObject({ status: 'SUCCEEDED', provider: 'DIGITAL_HUMAN' });
    expect(final.attempts[0]).toMatchObject({ provider: 'KIE', outcome: 'UNAVAILABLE', code: 'CIRCUIT_OPEN' });
    expect(delta(before, accepted(stack))).toEqual({ KLING: 0, KIE: 0, DIGITAL_HUMAN: 1 });

    const next = await create(stack, { ...SAMPLE_INPUT, route: ['KIE', 'DIGITAL_HUMAN'], prompt: 'hello' });
    expect(next).toMatchObject({ provider: 'DIGITAL_HUMAN', route: [] });
    expect(next.attempts[0]).toMatchObject({ provider: 'KIE', outcome: 'SKIPPED', code: 'CIRCUIT_OPEN' });
    const done = await stack.waitForFinal(next.id, FINAL_FIELDS);
    expect(done).toMatchObject({ status: 'SUCCEEDED', provider: 'DIGITAL_HUMAN' });
    expect(delta(before, accepted(stack))).toEqual({ KLING: 0, KIE: 0, DIGITAL_HUMAN: 2 });
  });
});
