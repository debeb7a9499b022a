import { createServer, type Server } from 'node:http';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf, type DbOrTx } from '../../src/db/client.js';
import { collect, CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/** Tenant A looks for tenant B's task through every door; each answers as for an id that does not exist. */
let stack: Stack;
let a: { apiKey: string };
let b: { apiKey: string };
let receiver: Server;
const received: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  stack = await startStack({ env: { WEBHOOK_ALLOW_ORIGINS: origin } });
  a = await stack.newTenant('tenant-a');
  b = await stack.newTenant('tenant-b');
  // A asks for every one of its tasks' events at its receiver.
  await stack.gql(
    'mutation ($url: String) { setDefaultWebhookUrl(url: $url) { ... on WebhookSettings { defaultUrl } } }',
    { url: `${origin}/a` },
    a.apiKey,
  );
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => receiver.close(r));
});

const missing = 'VGFzazowMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDA='; // Task:00000000-0000-4000-8000-000000000000

describe('tenant isolation', () => {
  it('A cannot read, list, count, resolve, subscribe to, cancel, refresh or receive webhooks of B’s task', async () => {
    const created = await stack.gql(
      CREATE_AVATAR,
      { input: { ...SAMPLE_INPUT, externalTaskId: 'b-secret' } },
      b.apiKey,
    );
    const id = created.data!.createAvatarVideo.id;

    const asB = await stack.gql('query ($id: ID!) { task(id: $id) { id } tasks { totalCount } }', { id }, b.apiKey);
    expect(asB.data).toEqual({ task: { id }, tasks: { totalCount: 1 } });

    const same = async (query: string, variables: Record<string, unknown>) => {
      const theirs = await stack.gql(query, variables, a.apiKey);
      const none = await stack.gql(query, { ...variables, id: missing }, a.apiKey);
      expect(theirs.data, query).toEqual(none.data);
      expect(theirs.errors, query).toEqual(none.errors);
      return theirs.data;
    };
    expect(await same('query ($id: ID!) { task(id: $id) { id } }', { id })).toEqual({ task: null });
    expect(await same('query ($id: ID!) { node(id: $id) { id } }', { id })).toEqual({ node: null });
    expect(await same('mutation ($id: ID!) { cancelTask(id: $id) { id } }', { id })).toEqual({ cancelTask: null });
    expect(await same('mutation ($id: ID!) { refreshTask(id: $id) { id } }', { id })).toEqual({ refreshTask: null });
    const byExternal = await stack.gql('{ task(externalTaskId: "b-secret") { id } }', {}, a.apiKey);
    expect(byExternal.data).toEqual({ task: null });
    const list = await stack.gql('{ tasks(first: 100) { totalCount edges { node { id } } } }', {}, a.apiKey);
    expect(list.data).toEqual({ tasks: { totalCount: 0, edges: [] } });

    // Subscriptions: nothing about B's task, while it changes all the way to SUCCEEDED.
    const watched = collect(
      stack
        .ws(a.apiKey)
        .iterate({ query: 'subscription ($id: ID!) { taskUpdated(id: $id) { id status } }', variables: { id } }),
      5000,
    );
    const feed: unknown[] = [];
    const feedClient = stack.ws(a.apiKey);
    const stopFeed = feedClient.subscribe(
      { query: 'subscription { taskEvents { cursor status task { id } } }' },
      { next: (v) => feed.push(v), error: () => {}, complete: () => {} },
    );
    await stack.waitForFinal(id, 'id', 10_000, b.apiKey);
    expect(await watched).toEqual([]);
    // A's own task, after B's has finished: once A's feed has its first event, any of B's (all
    // earlier) would have come before it.
    const mine = (await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT } }, a.apiKey)).data!.createAvatarVideo.id;
    await eventually(async () => feed.length > 0, 10_000, "A's own event on its feed");
    expect(feed.map((v: any) => v.data.taskEvents.task.id)).toEqual(feed.map(() => mine));
    stopFeed();

    // Webhooks: A's receiver never hears of B's task.
    expect(received.filter((body) => body.includes(id))).toEqual([]);
    expect((await stack.gql('query ($id: ID!) { task(id: $id) { status } }', { id }, b.apiKey)).data!.task.status).toBe(
      'SUCCEEDED',
    );
  });

  it('A’s own task events do reach A’s receiver (the isolation above is not silence)', async () => {
    const created = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT } }, a.apiKey);
    const id = created.data!.createAvatarVideo.id;
    const final = await stack.waitForFinal(id, 'events { edges { node { status } } }', 10_000, a.apiKey);
    const events = final.events.edges.length; // 4, or 3 when Kling finished before PROCESSING was read
    await eventually(async () => received.filter((body) => body.includes(id)).length >= events, 10_000, 'A’s webhooks');
  });
});

describe('row-level security (Postgres)', () => {
  it('the app role sees no task without a tenant set, and only that tenant’s with one', async () => {
    const { rows, rls } = await stack.app.db.asTenant('00000000-0000-4000-8000-000000000000', async (db) => {
      const n = (r: unknown) => ((Array.isArray(r) ? r : (r as { rows: unknown[] }).rows)[0] as { n: number }).n;
      return {
        rows: n(await db.execute(sql`select count(*)::int as n from tasks`)),
        rls: stack.app.db.rowLevelSecurity,
      };
    });
    if (!process.env.DATABASE_URL) {
      // PGlite has a single superuser, which row-level security never restricts: the code's filters are the wall.
      expect(rls).toBe(false);
      return;
    }
    expect(rls).toBe(true);
    expect(rows).toBe(0); // an unknown tenant: nothing
    const raw = await stack.app.db.db.transaction(async (tx) => {
      await tx.execute(sql`set local role clipwire_app`);
      const none = await tx.execute(sql`select count(*)::int as n from tasks`);
      return (Array.isArray(none) ? none : (none as { rows: unknown[] }).rows)[0] as { n: number };
    });
    expect(raw.n).toBe(0); // no tenant set at all: nothing either
    const owner = await stack.app.db.db.execute(sql`select count(distinct tenant_id)::int as n from tasks`);
    expect(
      ((Array.isArray(owner) ? owner : (owner as { rows: unknown[] }).rows)[0] as { n: number }).n,
    ).toBeGreaterThanOrEqual(2);
    const tenantB = await stack.gql('{ tasks { totalCount } }', {}, b.apiKey);
    expect(tenantB.data!.tasks.totalCount).toBe(1);
  });

  it('a failed tenant-scoped read rolls back: its error surfaces, and no connection keeps its tenant or role', async () => {
    // More failures than the pool has connections, each after the scope was set.
    for (let i = 0; i < 12; i++) {
      await expect(
        stack.app.db.asTenant('00000000-0000-4000-8000-000000000001', async (db) => {
          await db.execute(sql`select 1 / 0`);
        }),
      ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/division by zero/) } });
    }
    // Every pooled connection answers as the owner again, with no tenant set.
    const seen = await Promise.all(
      Array.from({ length: 12 }, () =>
        stack.app.db.db.transaction(async (tx) => {
          const [row] = rowsOf<{ role: string; tenant: string }>(
            await tx.execute(
              sql`select current_user as role, coalesce(current_setting('clipwire.tenant_id', true), '') as tenant, pg_sleep(0.02)`,
            ),
          );
          return row!;
        }),
      ),
    );
    for (const row of seen) {
      expect(row.role).not.toBe('clipwire_app');
      expect(row.tenant).toBe('');
    }
    // And a scoped read still works after them.
    const n = await stack.app.db.asTenant('00000000-0000-4000-8000-000000000001', async (db) => countTasks(db));
    expect(n).toBe(stack.app.db.rowLevelSecurity ? 0 : await countTasks(stack.app.db.db));
  });
});

describe('tenant-scoped reads (Postgres)', () => {
  it('run each statement in its own transaction as the tenant, and have no transactions inside', async () => {
    if (!process.env.DATABASE_URL) {
      expect(stack.app.db.rowLevelSecurity).toBe(false); // PGlite: asTenant is the database itself (see above)
      return;
    }
    const tenant = '00000000-0000-4000-8000-000000000002';
    const read = (db: DbOrTx) =>
      db.execute(
        sql`select current_user as role, current_setting('clipwire.tenant_id', true) as tenant, transaction_timestamp() as began, pg_sleep(0.01)`,
      );
    const [first, second] = await stack.app.db.asTenant(tenant, async (db) => [
      rowsOf<Scope>(await read(db))[0]!,
      rowsOf<Scope>(await read(db))[0]!,
    ]);
    for (const row of [first!, second!])
      expect({ role: row.role, tenant: row.tenant }).toEqual({ role: 'clipwire_app', tenant });
    // Two transactions: the second began after the first had slept.
    expect(new Date(second!.began).getTime()).toBeGreaterThan(new Date(first!.began).getTime());
    await expect(stack.app.db.asTenant(tenant, (db) => db.transaction(async () => 1))).rejects.toThrow(
      /its own transaction/,
    );
  });
});

type Scope = { role: string; tenant: string; began: string };

async function countTasks(db: DbOrTx): Promise<number> {
  return rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from tasks`))[0]!.n;
}
