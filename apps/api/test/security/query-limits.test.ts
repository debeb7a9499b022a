import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/graphql/armor.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Query bombs are refused at validation (or parsing), before any resolver runs: the answer carries
 * errors and no `data` at all. The same rules hold over HTTP and over WebSocket.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const costly = Array.from(
  { length: 15 },
  (_, i) =>
    `q${i}: tasks(first: 100) { edges { node { id status statusMessage model provider kind externalTaskId providerTaskId createdAt updatedAt completedAt videos { id url watermarkUrl durationSeconds } audios { id mp3Url wavUrl } error { code message providerCode } cost { units } } } }`,
);

const bombs: { name: string; query: string; refusal: RegExp }[] = [
  { name: 'depth 7', query: `{ tasks { edges { node { events { edges { node { id } } } } } } }`, refusal: /depth/i },
  {
    name: 'depth hidden in fragments',
    query: `query { tasks { ...A } } fragment A on TaskConnection { edges { node { ...B } } } fragment B on Task { events { edges { node { id } } } }`,
    refusal: /depth/i,
  },
  // 1000 aliases are 5000 tokens: the token limit refuses them first; 16 aliases meet the alias limit.
  {
    name: '1000 aliases',
    query: `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: providers { provider }`).join(' ')} }`,
    refusal: /token limit/i,
  },
  {
    name: '16 aliases',
    query: `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: __typename`).join(' ')} }`,
    refusal: /aliases/i,
  },
  {
    name: '10k tokens',
    query: `{ providers { ${Array.from({ length: 5000 }, () => 'provider').join(' ')} } }`,
    refusal: /token/i,
  },
  {
    name: '100 directives',
    query: `{ providers { provider ${Array.from({ length: 100 }, () => '@include(if: true)').join(' ')} } }`,
    refusal: /directives/i,
  },
  { name: 'cost over the limit', query: `{ ${costly.join(' ')} }`, refusal: /cost/i },
];

describe('query limits', () => {
  it('allows an ordinary query within every limit', async () => {
    const res = await stack.gql(`{ task(externalTaskId: "none") { events { edges { node { task { id } } } } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ task: null });
    expect(LIMITS.depth).toBe(6);
  });

  it.each(bombs)('refuses $name over HTTP before executing anything', async ({ query, refusal }) => {
    const res = await stack.gql(query);
    expect(res.errors?.[0]?.message, JSON.stringify(res).slice(0, 300)).toMatch(refusal);
    expect(res.data).toBeUndefined();
  });

  it.each(bombs)('refuses $name over WebSocket before executing anything', async ({ query, refusal }) => {
    const client = stack.ws();
    const result = await new Promise<{ errors?: unknown[]; data?: unknown }>((resolve) => {
      let last: { errors?: unknown[]; data?: unknown } = {};
      client.subscribe(
        { query: query.replace(/^\{/, 'subscription {').replace(/^query/, 'subscription') },
        {
          next: (v) => (last = v as typeof last),
          error: (e) => resolve({ errors: Array.isArray(e) ? e : [e] }),
          complete: () => resolve(last),
        },
      );
    });
    expect(String((result.errors?.[0] as { message?: string })?.message), JSON.stringify(result).slice(0, 300)).toMatch(
      refusal,
    );
    expect(result.data).toBeUndefined();
  });

  it('refuses batched (array) requests', async () => {
    const res = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}` },
      body: JSON.stringify([{ query: '{ providers { provider } }' }, { query: '{ providers { provider } }' }]),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const body = (await res.json()) as { data?: unknown; errors?: unknown[] };
    expect(body.data).toBeUndefined();
  });

  it('refuses a multipart or GET request without a preflight header (CSRF)', async () => {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: '{ providers { provider } }' }));
    form.append('map', '{}');
    const multipart = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}` },
      body: form,
    });
    expect(multipart.status).toBe(403);
    const get = await fetch(`${stack.url}/graphql?query=${encodeURIComponent('{ providers { provider } }')}`, {
      headers: { authorization: `Bearer ${stack.apiKey}`, accept: 'application/json' },
    });
    expect(get.status).toBe(403);
  });

  it('masks unexpected errors: no stack or internals reach the client', async () => {
    const res = await stack.gql('query ($id: ID!) { task(id: $id) { id } }', { id: 'not-a-global-id' });
    const text = JSON.stringify(res);
    expect(text).not.toMatch(/at .*\.ts:\d+|node_modules|stack/);
  });
});
