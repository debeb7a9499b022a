import { randomUUID } from 'node:crypto';
import { tenants } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { type ExecutionResult, execute, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/api-keys.js';
import { createApiKey, createTenant } from '../../src/auth/api-keys.js';
import type { DbOrTx } from '../../src/db/client.js';
import { schema } from '../../src/graphql/schema.js';
import { createContext } from '../../src/graphql/yoga.js';
import { startStack, type Stack } from '../support/stack.js';

/*
 * The schema in-process: `execute` with an operation's context whose database is a transaction that
 * is rolled back afterwards, so each case starts from the same rows and a failing rule points at its
 * resolver or auth rule, not at the HTTP stack. (The same rules over HTTP: auth.test.ts.) Resolvers that
 * reach services with their own connection (webhook secrets, task creation) are tested end to end.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

class Rollback extends Error {}

/** Runs `fn` in a transaction that is always rolled back; returns what `fn` returned. */
async function rolledBack<T>(fn: (tx: DbOrTx) => Promise<T>): Promise<T> {
  let result: T | undefined;
  await stack.app.db.db
    .transaction(async (tx) => {
      result = await fn(tx);
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  return result as T;
}

async function run(
  tx: DbOrTx,
  principal: Principal,
  source: string,
  variables: Record<string, unknown> = {},
): Promise<ExecutionResult<Record<string, any>>> {
  const contextValue = { ...createContext(stack.app.services, principal), db: tx };
  return (await execute({
    schema,
    document: parse(source),
    variableValues: variables,
    contextValue,
  })) as ExecutionResult<Record<string, any>>;
}

async function principalIn(tx: DbOrTx, name: string, scope: Principal['scope'] = 'tenant'): Promise<Principal> {
  return { tenantId: await createTenant(tx, name), apiKeyId: randomUUID(), scope };
}

const CREATE_KEY = /* GraphQL */ `
  mutation ($name: String!, $tenant: String) {
    createApiKey(name: $name, tenant: $tenant) {
      __typename
      ... on CreatedApiKey { key apiKey { name } }
      ... on ValidationError { issues { path message } }
    }
  }
`;

const SET_URL = /* GraphQL */ `
  mutation ($url: String) {
    setDefaultWebhookUrl(url: $url) {
      __typename
      ... on WebhookSettings { defaultUrl }
      ... on ValidationError { issues { path message } }
    }
  }
`;

describe('auth rules (scope-auth)', () => {
  it('a tenant key may not name a tenant in createApiKey: FORBIDDEN, and no tenant is created', async () => {
    const res = await rolledBack(async (tx) => {
      const me = await principalIn(tx, 'unit-tenant');
      const result = await run(tx, me, CREATE_KEY, { name: 'k', tenant: 'unit-other' });
      const [other] = await tx.select().from(tenants).where(eq(tenants.name, 'unit-other'));
      return { result, other };
    });
    expect(res.result.data?.createApiKey ?? null).toBeNull();
    expect(res.result.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(res.other).toBeUndefined();
  });

  it('an admin key names a new tenant: it is created with its key (and gone after the rollback)', async () => {
    const res = await rolledBack(async (tx) => {
      const admin = await principalIn(tx, 'unit-admin', 'admin');
      const result = await run(tx, admin, CREATE_KEY, { name: 'first', tenant: 'unit-new' });
      const [created] = await tx.select().from(tenants).where(eq(tenants.name, 'unit-new'));
      return { result, created };
    });
    expect(res.result.errors).toBeUndefined();
    expect(res.result.data!.createApiKey).toMatchObject({ __typename: 'CreatedApiKey', apiKey: { name: 'first' } });
    expect(res.result.data!.createApiKey.key).toMatch(/^cw_sk_/);
    expect(res.created?.name).toBe('unit-new');
    const after = await stack.app.db.db.select().from(tenants).where(eq(tenants.name, 'unit-new'));
    expect(after).toEqual([]);
  });
});

describe('errors as results (plugin-errors)', () => {
  it('createApiKey with an empty name answers a ValidationError naming `name`', async () => {
    const result = await rolledBack(async (tx) =>
      run(tx, await principalIn(tx, 'unit-name'), CREATE_KEY, { name: '' }),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.createApiKey).toEqual({
      __typename: 'ValidationError',
      issues: [{ path: ['name'], message: 'must be 1 to 100 characters' }],
    });
  });

  it('setDefaultWebhookUrl refuses a URL that is not https, naming `url`, and leaves the default unchanged', async () => {
    const res = await rolledBack(async (tx) => {
      const me = await principalIn(tx, 'unit-hook');
      const result = await run(tx, me, SET_URL, { url: 'ftp://example.com/hook' });
      const [tenant] = await tx.select().from(tenants).where(eq(tenants.id, me.tenantId));
      return { result, tenant };
    });
    expect(res.result.data!.setDefaultWebhookUrl.__typename).toBe('ValidationError');
    expect(res.result.data!.setDefaultWebhookUrl.issues.map((i: { path: string[] }) => i.path)).toEqual([['url']]);
    expect(res.tenant!.webhookUrl).toBeNull();
  });
});

describe('tenant rules on keys', () => {
  it("a tenant key neither lists nor revokes another tenant's key; an admin key does both", async () => {
    const res = await rolledBack(async (tx) => {
      const mine = await principalIn(tx, 'unit-keys-a');
      const admin = await principalIn(tx, 'unit-keys-admin', 'admin');
      const theirs = await createApiKey(tx, await createTenant(tx, 'unit-keys-b'), 'their key');
      const REVOKE = 'mutation ($id: ID!) { revokeApiKey(id: $id) { name revokedAt } }';
      const listedByTenant = await run(tx, mine, '{ apiKeys { id } }');
      const revokedByTenant = await run(tx, mine, REVOKE, { id: theirs.id });
      const listedByAdmin = await run(tx, admin, '{ apiKeys { id } }');
      const revokedByAdmin = await run(tx, admin, REVOKE, { id: theirs.id });
      return { theirs, listedByTenant, revokedByTenant, listedByAdmin, revokedByAdmin };
    });
    const ids = (r: ExecutionResult<Record<string, any>>) => r.data!.apiKeys.map((k: { id: string }) => k.id);
    expect(ids(res.listedByTenant)).not.toContain(res.theirs.id);
    expect(res.revokedByTenant.data!.revokeApiKey).toBeNull();
    expect(ids(res.listedByAdmin)).toContain(res.theirs.id);
    expect(res.revokedByAdmin.data!.revokeApiKey).toMatchObject({ name: 'their key', revokedAt: expect.anything() });
  });
});
