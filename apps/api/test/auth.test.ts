import { apiKeys } from '@clipwire/schema/tables';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/api-keys.js';
import { rowsOf } from '../src/db/client.js';
import { collect, CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

/** Opens a graphql-ws connection and reports how the server closed it (or 'open' once acknowledged). */
function connectionOutcome(key: string | null): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const client = stack.ws(key, {
      lazy: false,
      on: { connected: () => resolve('open'), closed: (event) => resolve((event as { code: number }).code) },
      onNonLazyError: () => {},
    });
    void client;
  });
}

describe('API keys', () => {
  it('refuses HTTP requests without a key or with a wrong one, with 401', async () => {
    for (const key of [null, 'cw_sk_not-a-real-key-at-all-000000000000000', 'garbage']) {
      const res = await stack.gql('{ tasks(first: 1) { edges { cursor } } }', {}, key);
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.data).toBeUndefined();
    }
  });

  it('refuses WebSocket connections without a key or with a wrong one (4403), and accepts the right key', async () => {
    expect(await connectionOutcome(null)).toBe(4403);
    expect(await connectionOutcome('cw_sk_not-a-real-key-at-all-000000000000000')).toBe(4403);
    expect(await connectionOutcome(stack.apiKey)).toBe('open');
  });

  it('stores keys as SHA-256 only: the key itself is nowhere in the database', async () => {
    const rows = await stack.app.db.db.select().from(apiKeys);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.keyHash).toMatch(/^[0-9a-f]{64}$/);
    const dump = rowsOf<{ t: string }>(
      await stack.app.db.db.execute(sql`select row_to_json(k)::text as t from api_keys k`),
    );
    expect(dump.map((r) => r.t).join('\n')).not.toContain(stack.apiKey);
    expect(stack.apiKey).toMatch(/^cw_sk_[A-Za-z0-9_-]{43}$/); // 256 random bits
  });

  it('refuses a revoked key within seconds', async () => {
    const { apiKey } = await stack.newTenant('revoked-soon');
    expect((await stack.gql('{ tasks(first: 1) { edges { cursor } } }', {}, apiKey)).status).toBe(200);
    const [row] = await stack.app.db.db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.prefix, apiKey.slice(0, 12)));
    await stack.app.db.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, row!.id));
    // The authenticator caches a key for at most 2 s: refused within that, not at once.
    const revokedAt = Date.now();
    await eventually(
      async () => (await stack.gql('{ tasks(first: 1) { edges { cursor } } }', {}, apiKey)).status === 401,
      5000,
      'the revoked key to be refused',
    );
    expect(Date.now() - revokedAt).toBeLessThan(5000);
  });
});

describe('tenants', () => {
  it('another tenant’s task answers like one that does not exist, over every read path', async () => {
    const created = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: 'tenant-a-task' } });
    const id = created.data!.createAvatarVideo.id;
    const other = await stack.newTenant('tenant-b');

    const byId = await stack.gql('query ($id: ID!) { task(id: $id) { id } }', { id }, other.apiKey);
    expect(byId.data).toEqual({ task: null });
    const byExternal = await stack.gql('{ task(externalTaskId: "tenant-a-task") { id } }', {}, other.apiKey);
    expect(byExternal.data).toEqual({ task: null });
    const byNode = await stack.gql('query ($id: ID!) { node(id: $id) { id } }', { id }, other.apiKey);
    expect(byNode.data).toEqual({ node: null });
    const list = await stack.gql('{ tasks(first: 50) { edges { node { id } } } }', {}, other.apiKey);
    expect(list.data!.tasks.edges).toEqual([]);
    const watched = await collect(
      stack
        .ws(other.apiKey)
        .iterate({ query: 'subscription ($id: ID!) { taskUpdated(id: $id) { id status } }', variables: { id } }),
      5000,
    );
    expect(watched).toEqual([]);

    // The owner still sees it, and B may reuse A's externalTaskId.
    expect((await stack.gql('query ($id: ID!) { task(id: $id) { id } }', { id })).data).toEqual({ task: { id } });
    const reuse = await stack.gql(
      CREATE_AVATAR,
      { input: { ...SAMPLE_INPUT, externalTaskId: 'tenant-a-task' } },
      other.apiKey,
    );
    expect(reuse.data!.createAvatarVideo.__typename).toBe('Task');
  });
});

describe('admin keys', () => {
  const CREATE_KEY =
    'mutation ($tenant: String) { createApiKey(name: "k", tenant: $tenant) { ... on CreatedApiKey { apiKey { tenant } } } }';

  it('only an admin key names a tenant in createApiKey; a tenant key is refused with FORBIDDEN and sees only its keys', async () => {
    const own = await stack.newTenant('keys-own');
    const refused = await stack.gql(CREATE_KEY, { tenant: 'keys-elsewhere' }, own.apiKey);
    expect(refused.errors?.[0]).toMatchObject({
      message: 'an admin API key is required',
      extensions: { code: 'FORBIDDEN' },
    });
    expect(refused.data).toEqual({ createApiKey: null });
    expect((await stack.gql(CREATE_KEY, {}, own.apiKey)).data).toEqual({
      createApiKey: { apiKey: { tenant: 'keys-own' } },
    });

    const admin = (await createApiKey(stack.app.db.db, own.tenantId, 'admin key', 'admin')).key;
    const created = await stack.gql(CREATE_KEY, { tenant: 'keys-elsewhere' }, admin);
    expect(created.data).toEqual({ createApiKey: { apiKey: { tenant: 'keys-elsewhere' } } });
    const tenantsSeen = async (key: string) =>
      new Set(
        (await stack.gql('{ apiKeys { tenant } }', {}, key)).data!.apiKeys.map((k: { tenant: string }) => k.tenant),
      );
    expect(await tenantsSeen(own.apiKey)).toEqual(new Set(['keys-own']));
    expect(await tenantsSeen(admin)).toContain('keys-elsewhere');
  });

  it('answers a ValidationError naming the argument for invalid input of createApiKey and rotateWebhookSecret', async () => {
    const invalid = '__typename ... on ValidationError { message issues { path } }';
    const key = await stack.gql(`mutation { createApiKey(name: "") { ${invalid} } }`);
    expect(key.data!.createApiKey).toEqual({
      __typename: 'ValidationError',
      message: 'name: must be 1 to 100 characters',
      issues: [{ path: ['name'] }],
    });
    const rotate = await stack.gql(`mutation { rotateWebhookSecret(graceHours: 721) { ${invalid} } }`);
    expect(rotate.data!.rotateWebhookSecret).toEqual({
      __typename: 'ValidationError',
      message: 'graceHours: must be between 0 and 720',
      issues: [{ path: ['graceHours'] }],
    });
  });
});
