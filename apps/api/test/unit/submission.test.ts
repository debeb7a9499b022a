import { ProviderError, type ProviderErrorKind } from '@clipwire/providers';
import { jobs } from '@clipwire/schema/tables';
import type { TaskRow } from '@clipwire/schema/tables';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/api-keys.js';
import { createTenant } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config.js';
import { sha256Hex } from '../../src/crypto.js';
import {
  acceptedReport,
  type ProviderReport,
  type SubmitContext,
  type TaskAdapter,
} from '../../src/providers/types.js';
import { composeServices, type Services } from '../../src/server/compose.js';
import { findTaskById } from '../../src/tasks/repository.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/stack.js';

/*
 * The submission job against a fake adapter, in-process (the composed services and their job workers,
 * a real database, no HTTP and no simulator): what the engine does with each kind of provider answer.
 * (The same paths against the simulator over HTTP: resilience/faults.test.ts, provider-rejected.test.ts.)
 */

type Step = () => Promise<ProviderReport>;

/** A Kling avatar adapter whose answers are scripted per task (by external id); it records every call. */
class FakeAdapter implements TaskAdapter {
  readonly provider = 'KLING' as const;
  readonly kind = 'AVATAR_VIDEO' as const;
  readonly mode = 'SANDBOX' as const;
  readonly callbacks = true;
  readonly findsUnconfirmedCreates = true;
  readonly submits: { task: TaskRow; ctx: SubmitContext }[] = [];
  readonly lookups: TaskRow[] = [];
  private readonly script = new Map<string, { submit: Step[]; lookup: Step[] }>();

  plan(externalTaskId: string, submit: Step[], lookup: Step[] = []): void {
    this.script.set(externalTaskId, { submit, lookup });
  }

  submitsOf(taskId: string) {
    return this.submits.filter((s) => s.task.id === taskId);
  }

  async submit(task: TaskRow, ctx: SubmitContext): Promise<ProviderReport> {
    this.submits.push({ task, ctx });
    const next = this.script.get(task.externalTaskId!)?.submit.shift();
    if (!next) throw new Error(`unexpected submit of ${task.externalTaskId}`);
    return next();
  }

  async lookup(task: TaskRow): Promise<ProviderReport | null> {
    this.lookups.push(task);
    const next = this.script.get(task.externalTaskId!)?.lookup.shift();
    return next ? next() : null;
  }
}

const refusal = (kind: ProviderErrorKind, code: string, retryable: boolean) => async (): Promise<never> => {
  throw new ProviderError({ provider: 'kling', kind, code, retryable, message: `${kind} ${code}` });
};
const accepted = (id: string) => async () => acceptedReport(id, 'submitted');

const fake = new FakeAdapter();
let database: TestDatabase;
let services: Services;
let principal: Principal;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    CLIPWIRE_DATA_DIR: 'memory://',
    POLL_INTERVAL_MS: '100',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
  });
  if (database.target.kind === 'pglite') config.database = database.target;
  services = await composeServices(
    {
      config,
      adapters: [fake],
      engine: { retryBaseMs: 20, retryMaxMs: 100, unconfirmedGraceMs: 50, maxPollDelayMs: 200 },
    },
    () => 'http://api.test',
  );
  await services.startWork();
  principal = { tenantId: await createTenant(services.db.db, 'unit-submission'), apiKeyId: 'k', scope: 'tenant' };
});
afterAll(async () => {
  await services?.stopWork();
  await services?.close();
  await database?.drop();
});

async function create(externalTaskId: string): Promise<TaskRow> {
  const request = { image: { url: 'https://media.example/a.png' }, sound: null, audioId: 'tts', prompt: null };
  return services.tasks.create(principal, {
    kind: 'AVATAR_VIDEO',
    provider: 'KLING',
    model: 'kling-avatar-std',
    externalTaskId,
    webhookUrl: null,
    input: {},
    request: { ...request, mode: 'std', watermark: false },
    uploads: [],
    route: [],
    skipped: [],
    fingerprint: `unit-${externalTaskId}`,
  });
}

async function settled(taskId: string, status: TaskRow['status']): Promise<TaskRow> {
  return eventually(
    async () => {
      const task = await findTaskById(services.db.db, taskId);
      return task?.status === status ? task : null;
    },
    10_000,
    `the task to be ${status}`,
  );
}

async function pendingJobs(taskId: string): Promise<number> {
  const rows = await services.db.db
    .select({ id: jobs.id })
    .from(jobs)
    .where(eq(sql`${jobs.payload}->>'taskId'`, taskId));
  return rows.length;
}

describe('the submission job', () => {
  it("sends the stored request once and records the provider's id; the callback URL carries a token only hashed in the row", async () => {
    fake.plan('ok', [accepted('p-ok')]);
    const task = await create('ok');
    const submitted = await settled(task.id, 'SUBMITTED');
    expect(fake.submitsOf(task.id)).toHaveLength(1);
    const { task: sent, ctx } = fake.submitsOf(task.id)[0]!;
    expect(sent.providerRequest).toEqual(task.providerRequest);
    const token = /^http:\/\/api\.test\/callbacks\/kling\/([\w-]{20,})$/.exec(ctx.callbackUrl ?? '')?.[1];
    expect(token).toBeDefined();
    expect(submitted.providerTaskId).toBe('p-ok');
    expect(submitted.callbackTokenHash).toBe(sha256Hex(token!));
    expect(JSON.stringify(submitted)).not.toContain(token!);
  });

  it('a retryable refusal (rate limit) is tried again, and the task is submitted once it is accepted', async () => {
    fake.plan('retry', [refusal('rate_limit', '1302', true), accepted('p-retry')]);
    const task = await create('retry');
    const submitted = await settled(task.id, 'SUBMITTED');
    expect(fake.submitsOf(task.id)).toHaveLength(2);
    expect(submitted.providerTaskId).toBe('p-retry');
  });

  it("a final refusal fails the task with the provider's code, and nothing is left to send it again", async () => {
    fake.plan('refused', [refusal('validation', '1201', false)]);
    const task = await create('refused');
    const failed = await settled(task.id, 'FAILED');
    expect(failed.error).toMatchObject({ providerCode: '1201' });
    expect(fake.submitsOf(task.id)).toHaveLength(1);
    await eventually(async () => (await pendingJobs(task.id)) === 0, 5000, 'no job left for the task');
  });

  it('a create whose answer is lost (timeout) is looked up, not sent again, and adopted when found', async () => {
    fake.plan('lost', [refusal('timeout', 'TIMEOUT', true)], [accepted('p-found')]);
    const task = await create('lost');
    const submitted = await settled(task.id, 'SUBMITTED');
    expect(fake.submitsOf(task.id)).toHaveLength(1);
    expect(fake.lookups.filter((t) => t.id === task.id).length).toBeGreaterThanOrEqual(1);
    expect(submitted.providerTaskId).toBe('p-found');
  });
});
