import { readFileSync } from 'node:fs';
import { getIntrospectionQuery } from 'graphql';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Introspection is exempt from the depth limit (GraphiQL's query is 15 deep), not unbounded: at most
 * 20 levels and no list of members inside another. And the SDL is served to a key at GET /schema.graphql.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

describe('introspection', () => {
  it('the standard introspection query (GraphiQL’s, with every option) is answered', async () => {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      inputValueDeprecation: true,
      oneOf: true,
    });
    const res = await stack.gql(query);
    expect(res.errors).toBeUndefined();
    expect(res.data!.__schema.queryType.name).toBe('Query');
  });

  it('a list of members inside another (the exponential shape) is refused', async () => {
    const res = await stack.gql('{ __schema { types { fields { type { fields { name } } } } } }');
    expect(res.data).toBeUndefined();
    expect(res.errors?.map((e) => e.message)).toEqual([
      'Introspection query refused: fields selected within another list of members.',
    ]);
  });

  it('deeper than 20 levels is refused', async () => {
    const chain = (n: number): string => (n === 0 ? 'name' : `ofType { ${chain(n - 1)} }`);
    const res = await stack.gql(`{ __schema { queryType { fields { type { ${chain(20)} } } } } }`);
    expect(res.errors?.map((e) => e.message)).toContain('Introspection query refused: deeper than 20 levels.');
  });

  it('GET /schema.graphql serves the committed SDL to a key, and nothing without one', async () => {
    const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    const ok = await request(`${stack.url}/schema.graphql`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(await ok.body.text()).toBe(committed);
    const anonymous = await request(`${stack.url}/schema.graphql`);
    expect(anonymous.statusCode).toBe(401);
    expect(await anonymous.body.text()).not.toContain('type Query');
  });
});
