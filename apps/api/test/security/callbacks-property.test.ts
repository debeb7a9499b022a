import fc from 'fast-check';
import { tasks } from '@clipwire/schema/tables';
import { sql } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/**
 * Thousands of malformed callback bodies and headers, at every callback route, with real and fake
 * tokens: the database is byte-for-byte unchanged and the process keeps answering.
 */
let stack: Stack;
let tokens: { kling: string; kie: string };

beforeAll(async () => {
  // Slow providers: the tasks stay running (not final) through the whole test.
  stack = await startStack({
    kling: { timing: { processingAfterMs: 60_000, succeedAfterMs: 120_000 } },
    kie: { timing: { queuingAfterMs: 60_000, generatingAfterMs: 90_000, completeAfterMs: 120_000 } },
    // No reconciliation poll during the test either: only the garbage could change anything.
    engine: { callbackGraceMs: 600_000, maxPollDelayMs: 600_000 },
  });
  // Two live tasks whose real callback tokens the attacker is also given.
  const kling = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: 'prop-kling' } });
  const kie = await stack.gql(CREATE_AVATAR, {
    input: { ...SAMPLE_INPUT, provider: 'KIE', prompt: 'p', image: SAMPLE_INPUT.image },
  });
  expect(kling.data!.createAvatarVideo.__typename).toBe('Task');
  expect(kie.data!.createAvatarVideo.__typename).toBe('Task');
  const tokenFrom = (url: unknown) => String(url).split('/').at(-1)!;
  tokens = await eventually(
    async () => {
      const rows = await stack.app.db.db.select().from(tasks);
      const klingTask = rows.find((t) => t.provider === 'KLING');
      const kieTask = rows.find((t) => t.provider === 'KIE');
      if (klingTask?.status !== 'SUBMITTED' || kieTask?.status !== 'SUBMITTED') return null;
      const klingUrl = (stack.sim.kling.lastCreateBody(klingTask.id) as { callback_url?: string } | null)?.callback_url;
      // KIE keeps the create request as `param`: ask its record, as a client of the simulator.
      const record = (await (
        await fetch(`${stack.sim.url}/api/v1/jobs/recordInfo?taskId=${kieTask.providerTaskId}`, {
          headers: { authorization: 'Bearer sandbox-kie-key' },
        })
      ).json()) as { data: { param: string } };
      const kieUrl = (JSON.parse(record.data.param) as { callBackUrl?: string }).callBackUrl;
      return klingUrl && kieUrl ? { kling: tokenFrom(klingUrl), kie: tokenFrom(kieUrl) } : null;
    },
    10_000,
    'both tasks submitted',
  );
  // No genuine callback may interleave with the garbage below, and the refresh jobs the genuine
  // ones queued so far must have run.
  stack.sim.kling.setCallbacksEnabled(false);
  stack.sim.kie.setCallbacksEnabled(false);
  await eventually(
    async () => {
      // The hourly media maintenance job stays queued: every other job must have run.
      const rows = rowsOf<{ n: number }>(
        await stack.app.db.db.execute(sql`select count(*)::int as n from jobs where queue <> 'maintenance'`),
      );
      return rows[0]?.n === 0;
    },
    10_000,
    'no job left in the queue',
  );
});
afterAll(() => stack?.stop());

/**
 * Every row of every table, as text: the "byte-for-byte" picture of the database. Except a key's
 * `last_used_at`: the test's own GraphQL requests use the key, and its last use is written in a batch.
 */
async function dump(): Promise<string> {
  const tables = [
    'tenants',
    'api_keys',
    'tasks',
    'task_events',
    'media_objects',
    'webhook_secrets',
    'webhook_deliveries',
    'webhook_delivery_attempts',
    'server_secrets',
  ];
  const parts: string[] = [];
  for (const t of tables) {
    const rows = rowsOf<{ j: string }>(
      await stack.app.db.db.execute(
        sql.raw(
          `select coalesce(json_agg(to_jsonb(x) - 'last_used_at' order by 1)::text, '[]') as j from (select * from ${t}) x`,
        ),
      ),
    );
    parts.push(`${t}:${rows[0]?.j}`);
  }
  // Jobs are the queue, not state: a refresh queued by a genuine notification would be legitimate,
  // but none may be queued by garbage either.
  const jobs = rowsOf<{ n: number }>(
    await stack.app.db.db.execute(sql`select count(*)::int as n from jobs where queue = 'refresh'`),
  );
  parts.push(`refresh-jobs:${jobs[0]?.n}`);
  return parts.join('\n');
}

const jsonish = fc.oneof(
  fc.string(),
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record({ task_id: fc.oneof(fc.string(), fc.integer()), task_status: fc.string(), task_info: fc.anything() })
    .map((v) => JSON.stringify(v)),
  fc
    .record({
      code: fc.integer(),
      data: fc.record({ taskId: fc.string(), state: fc.string(), resultJson: fc.string() }),
    })
    .map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString('latin1')),
);

describe('malformed callbacks', () => {
  it('change nothing and never take the process down', async () => {
    const before = await dump();
    const routes = () =>
      fc.oneof(
        fc.constant(`/callbacks/kling/${tokens.kling}`),
        fc.constant(`/callbacks/kie/${tokens.kie}`),
        fc.constant(`/callbacks/kie/${tokens.kling}`), // a real token on the wrong provider
        fc.constant(`/callbacks/digital-human/${tokens.kling}`),
        fc.string({ minLength: 1, maxLength: 80 }).map((s) => `/callbacks/kling/${encodeURIComponent(s)}`),
        fc.string({ minLength: 1, maxLength: 20 }).map((s) => `/callbacks/${encodeURIComponent(s)}/${tokens.kling}`),
      );
    const headers = fc.dictionary(
      fc.constantFrom(
        'content-type',
        'webhook-id',
        'webhook-signature',
        'webhook-timestamp',
        'x-webhook-signature',
        'x-webhook-timestamp',
        'x-forwarded-for',
      ),
      fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
    );
    await fc.assert(
      fc.asyncProperty(routes(), jsonish, headers, async (path, body, hdrs) => {
        const res = await request(`${stack.url}${path}`, { method: 'POST', headers: hdrs, body });
        await res.body.dump();
        return res.statusCode >= 400 && res.statusCode < 500;
      }),
      { numRuns: 2000 },
    );
    // An oversized body too.
    const huge = await request(`${stack.url}/callbacks/kling/${tokens.kling}`, {
      method: 'POST',
      body: 'x'.repeat(65 * 1024),
    });
    expect(huge.statusCode).toBe(413);
    await huge.body.dump();

    expect(await dump()).toBe(before);
    expect((await request(`${stack.url}/healthz`)).statusCode).toBe(200);
  });
});
