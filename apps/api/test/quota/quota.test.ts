import { tasks } from '@clipwire/schema/tables';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { uuidOf } from '../support/ids.js';
import { eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/*
 * Tenant limits (tasks/quota.ts): 50 creates at once against each limit, over HTTP, on whichever
 * database the suite runs on (PGlite by default; PostgreSQL with DATABASE_URL, where the creates
 * really run in parallel transactions). Kling's simulator is slow here, so no accepted task finishes
 * (and frees its slot) during a burst, and has no concurrency limit, so every accepted task is sent.
 */

const SLOW = { processingAfterMs: 600_000, succeedAfterMs: 1_200_000 };
const FAST = { processingAfterMs: 100, succeedAfterMs: 300 };

const CREATE = /* GraphQL */ `
  mutation ($input: CreateAvatarVideoInput!) {
    createAvatarVideo(input: $input) {
      __typename
      ... on Task { id status externalTaskId }
      ... on QuotaExceeded { message limit provider max used requested resetsAt }
    }
  }
`;

const SET_LIMITS = /* GraphQL */ `
  mutation ($tenant: String!, $input: TenantLimitsInput!) {
    setTenantLimits(tenant: $tenant, input: $input) {
      __typename
      ... on Quota { tenant maxInFlight inFlight maxTasksPerDay tasksToday monthCost { max used } }
      ... on ValidationError { issues { path message } }
    }
  }
`;

const QUOTA = /* GraphQL */ `
  {
    quota {
      tenant maxInFlight inFlight maxTasksPerDay tasksToday dayResetsAt monthResetsAt
      monthCost { max used reported estimated }
      providers { provider monthCost { max used reported estimated } }
    }
  }
`;

let stack: Stack;
let adminKey: string;
let tenantSeq = 0;

beforeAll(async () => {
  stack = await startStack({ kling: { timing: SLOW }, engine: { concurrency: {} } });
  stack.sim.kling.setConcurrency(Number.POSITIVE_INFINITY);
  const { tenantId } = await stack.newTenant('quota-admins');
  adminKey = (await createApiKey(stack.app.db.db, tenantId, 'quota admin', 'admin')).key;
}, 60_000);
afterAll(() => stack?.stop());

async function tenantWithLimits(input: Record<string, unknown>) {
  const name = `quota-${++tenantSeq}`;
  const tenant = await stack.newTenant(name);
  const set = await stack.gql(SET_LIMITS, { tenant: name, input }, adminKey);
  expect(set.data?.setTenantLimits.__typename).toBe('Quota');
  return { ...tenant, name };
}

function create(key: string, externalTaskId: string) {
  return stack.gql(CREATE, { input: { ...SAMPLE_INPUT, externalTaskId } }, key);
}

/** 50 creates at once; the answers grouped, with the refused creates' external ids. */
async function burst(key: string, prefix: string, n = 50) {
  const createsBefore = stack.sim.kling.createCount();
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => create(key, `${prefix}-${i}`).then((r) => r.data?.createAvatarVideo)),
  );
  return {
    accepted: answers.filter((a) => a?.__typename === 'Task'),
    refused: answers.filter((a) => a?.__typename === 'QuotaExceeded'),
    other: answers.filter((a) => a?.__typename !== 'Task' && a?.__typename !== 'QuotaExceeded'),
    createsBefore,
  };
}

async function storedTasks(tenantId: string): Promise<number> {
  return (await stack.app.db.db.select().from(tasks).where(eq(tasks.tenantId, tenantId))).length;
}

/**
 * Every accepted task reached Kling once (Clipwire sends its own task id as Kling's external_task_id),
 * and nothing else did: a refused create was never stored, so nothing of it can be sent.
 */
async function expectOnlyAcceptedSent(createsBefore: number, accepted: { id: string }[]) {
  await eventually(
    async () => accepted.every((t) => stack.sim.kling.createsFor(uuidOf(t.id)) === 1),
    30_000,
    'every accepted task to reach Kling',
  );
  expect(stack.sim.kling.createCount() - createsBefore).toBe(accepted.length);
}

function nextUtcMidnight(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
}

function nextUtcMonth(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
}

describe('tenant limits under 50 concurrent creates', () => {
  it('tasks per day: exactly the limit is accepted, the rest answer QuotaExceeded with used and the next UTC midnight', async () => {
    const t = await tenantWithLimits({ maxTasksPerDay: 20 });
    const { accepted, refused, other, createsBefore } = await burst(t.apiKey, 'day');
    expect(other).toEqual([]);
    expect(accepted).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const r of refused) {
      expect(r).toMatchObject({ limit: 'TASKS_PER_DAY', max: 20, used: 20, requested: 1, provider: null });
      expect(r.resetsAt).toBe(nextUtcMidnight());
    }
    expect(await storedTasks(t.tenantId)).toBe(20);
    await expectOnlyAcceptedSent(createsBefore, accepted);
    const quota = (await stack.gql(QUOTA, {}, t.apiKey)).data?.quota;
    expect(quota).toMatchObject({ tenant: t.name, maxTasksPerDay: 20, tasksToday: 20, dayResetsAt: nextUtcMidnight() });
  }, 90_000);

  it('tasks in flight: exactly the limit is accepted; a task that ends frees its slot', async () => {
    const t = await tenantWithLimits({ maxInFlight: 7 });
    const { accepted, refused, other, createsBefore } = await burst(t.apiKey, 'flight');
    expect(other).toEqual([]);
    expect(accepted).toHaveLength(7);
    expect(refused).toHaveLength(43);
    for (const r of refused)
      expect(r).toMatchObject({ limit: 'TASKS_IN_FLIGHT', max: 7, used: 7, requested: 1, resetsAt: null });
    expect(await storedTasks(t.tenantId)).toBe(7);
    await expectOnlyAcceptedSent(createsBefore, accepted);

    const cancel = await stack.gql(
      'mutation ($id: ID!) { cancelTask(id: $id) { __typename ... on Task { status } } }',
      { id: accepted[0].id },
      t.apiKey,
    );
    expect(JSON.stringify(cancel.data)).toContain('CANCELED');
    expect((await create(t.apiKey, 'flight-after-cancel')).data?.createAvatarVideo.__typename).toBe('Task');
    expect((await create(t.apiKey, 'flight-one-too-many')).data?.createAvatarVideo).toMatchObject({
      limit: 'TASKS_IN_FLIGHT',
      used: 7,
    });
  }, 90_000);

  it("a provider's monthly budget: creates are admitted while their estimates fit, then QuotaExceeded until the next UTC month", async () => {
    // Kling avatar tasks are estimated at 5 units each (COST_ESTIMATES' default): 4 fit in 23.
    const t = await tenantWithLimits({ providerBudgets: [{ provider: 'KLING', monthlyBudget: 23 }] });
    const { accepted, refused, other, createsBefore } = await burst(t.apiKey, 'budget');
    expect(other).toEqual([]);
    expect(accepted).toHaveLength(4);
    expect(refused).toHaveLength(46);
    for (const r of refused) {
      expect(r).toMatchObject({ limit: 'MONTHLY_COST_PROVIDER', provider: 'KLING', max: 23, used: 20, requested: 5 });
      expect(r.resetsAt).toBe(nextUtcMonth());
    }
    expect(await storedTasks(t.tenantId)).toBe(4);
    await expectOnlyAcceptedSent(createsBefore, accepted);
    const quota = (await stack.gql(QUOTA, {}, t.apiKey)).data?.quota;
    expect(quota.monthResetsAt).toBe(nextUtcMonth());
    expect(quota.providers.find((p: { provider: string }) => p.provider === 'KLING').monthCost).toEqual({
      max: 23,
      used: 20,
      reported: 0,
      estimated: 20,
    });
  }, 90_000);

  it('the monthly total: the reservation is settled with the cost Kling reports', async () => {
    const t = await tenantWithLimits({ monthlyBudget: 12 });
    stack.sim.kling.setTiming(FAST);
    try {
      const { accepted, refused, other } = await burst(t.apiKey, 'total', 10);
      expect(other).toEqual([]);
      expect(accepted).toHaveLength(2);
      expect(refused).toHaveLength(8);
      for (const r of refused) expect(r).toMatchObject({ limit: 'MONTHLY_COST', max: 12, used: 10, requested: 5 });
      for (const task of accepted) {
        const done = await stack.waitForFinal(task.id, 'cost { units } costEstimate', 30_000, t.apiKey);
        expect(done).toMatchObject({ status: 'SUCCEEDED', cost: { units: '5' }, costEstimate: 5 });
      }
    } finally {
      stack.sim.kling.setTiming(SLOW);
    }
    // Kling reported 5 units for each: the estimates gave way to the reported costs.
    const quota = (await stack.gql(QUOTA, {}, t.apiKey)).data?.quota;
    expect(quota.monthCost).toEqual({ max: 12, used: 10, reported: 10, estimated: 0 });
  }, 90_000);
});

describe('tenant limits', () => {
  it("one tenant at its limit neither refuses nor waits for another's creates", async () => {
    const a = await tenantWithLimits({ maxTasksPerDay: 1 });
    const b = await tenantWithLimits({ maxTasksPerDay: 5 });
    expect((await create(a.apiKey, 'a-1')).data?.createAvatarVideo.__typename).toBe('Task');
    expect((await create(a.apiKey, 'a-2')).data?.createAvatarVideo.__typename).toBe('QuotaExceeded');
    const ofB = await Promise.all([1, 2, 3].map((i) => create(b.apiKey, `b-${i}`)));
    expect(ofB.map((r) => r.data?.createAvatarVideo.__typename)).toEqual(['Task', 'Task', 'Task']);
    if (stack.app.db.driver === 'postgres') {
      // Another transaction holds A's limits row (as a create of A does until it commits): B's
      // create goes through meanwhile, so there is no lock across tenants.
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const holder = stack.app.db.db.transaction(async (tx) => {
        await tx.execute(sql`select 1 from tenant_limits where tenant_id = ${a.tenantId} for update`);
        locked();
        await held;
      });
      await isLocked;
      try {
        expect((await create(b.apiKey, 'b-while-a-locked')).data?.createAvatarVideo.__typename).toBe('Task');
      } finally {
        release();
        await holder;
      }
    }
  }, 60_000);

  it('the same create retried at the limit answers the task it made, not QuotaExceeded', async () => {
    const t = await tenantWithLimits({ maxTasksPerDay: 1 });
    const first = (await create(t.apiKey, 'retry-1')).data?.createAvatarVideo;
    expect(first.__typename).toBe('Task');
    const again = (await create(t.apiKey, 'retry-1')).data?.createAvatarVideo;
    expect(again).toMatchObject({ __typename: 'Task', id: first.id });
    expect((await create(t.apiKey, 'retry-2')).data?.createAvatarVideo.__typename).toBe('QuotaExceeded');
  }, 60_000);

  it('only an admin key sets limits; bad limits are refused naming the field, and change nothing', async () => {
    const t = await tenantWithLimits({ maxInFlight: 3 });
    const byTenant = await stack.gql(SET_LIMITS, { tenant: t.name, input: { maxInFlight: 100 } }, t.apiKey);
    expect(byTenant.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const bad = await stack.gql(
      SET_LIMITS,
      {
        tenant: t.name,
        input: {
          maxInFlight: -1,
          monthlyBudget: 2e12,
          providerBudgets: [
            { provider: 'KLING', monthlyBudget: 5 },
            { provider: 'KLING', monthlyBudget: 6 },
          ],
        },
      },
      adminKey,
    );
    expect(bad.data?.setTenantLimits.__typename).toBe('ValidationError');
    expect(bad.data?.setTenantLimits.issues.map((i: { path: string[] }) => i.path.join('.')).sort()).toEqual([
      'input.maxInFlight',
      'input.monthlyBudget',
      'input.providerBudgets.1.provider',
    ]);
    const unknown = await stack.gql(SET_LIMITS, { tenant: 'no-such-tenant', input: {} }, adminKey);
    expect(unknown.data?.setTenantLimits.issues).toEqual([
      { path: ['tenant'], message: 'no tenant is named "no-such-tenant"' },
    ]);
    expect((await stack.gql(QUOTA, {}, t.apiKey)).data?.quota.maxInFlight).toBe(3);
    // Cleared: no limit.
    const cleared = await stack.gql(SET_LIMITS, { tenant: t.name, input: {} }, adminKey);
    expect(cleared.data?.setTenantLimits).toMatchObject({ maxInFlight: null, maxTasksPerDay: null });
  }, 60_000);
});
