import { apiKeys } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_API_RATE_LIMIT } from './resilience/resilience-support.js';
import { eventually, startStack, type Stack } from './support/stack.js';

/*
 * API keys' last-used time: noted in memory on each accepted request, written at most once a minute
 * per key, in a batch after the request (transactions per task are bounded separately, in
 * engine/transactions.test.ts).
 */

const KEYS = '{ apiKeys { id name prefix createdAt lastUsedAt revokedAt } }';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: NO_API_RATE_LIMIT });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe('API keys’ last use', () => {
  it('appears after a key is used, with the creation date, and is not rewritten on every request', {
    timeout: 30_000,
  }, async () => {
    const made = await stack.gql(
      'mutation { createApiKey(name: "last-used") { ... on CreatedApiKey { key apiKey { id } } } }',
    );
    const { key, apiKey } = made.data!.createApiKey;
    const listed = async () =>
      ((await stack.gql(KEYS)).data!.apiKeys as any[]).find((k) => k.id === apiKey.id) as Record<string, any>;
    const fresh = await listed();
    expect(fresh.lastUsedAt).toBeNull();
    expect(Date.parse(fresh.createdAt)).toBeLessThanOrEqual(Date.now());

    const usedAt = Date.now();
    expect((await stack.gql('{ webhookSettings { defaultUrl } }', {}, key)).status).toBe(200);
    const first = await eventually(async () => (await listed()).lastUsedAt as string | null, 10_000, 'lastUsedAt');
    expect(Date.parse(first)).toBeGreaterThanOrEqual(Date.parse(fresh.createdAt));
    expect(Date.parse(first)).toBeGreaterThanOrEqual(usedAt - 1000);

    // Twenty more requests within the minute: the stored time stays as it was (no write per request).
    for (let i = 0; i < 20; i++) expect((await stack.gql('{ apiKeys { id } }', {}, key)).status).toBe(200);
    // Whatever these requests left to write is written now (as at shutdown).
    await stack.app.services.lastUsed.flush();
    const [row] = await stack.app.db.db.select().from(apiKeys).where(eq(apiKeys.id, apiKey.id));
    expect(row!.lastUsedAt!.toISOString()).toBe(new Date(first).toISOString());
  });
});
