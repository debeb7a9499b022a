import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Every argument of every root field, given values a careless or hostile client sends, answers a
 * clear error or a result — never "Unexpected error." (a failure the code did not expect: a value
 * that reached the database, a cast, a stack). The fields and their argument types are read from
 * the schema, so a field added later is covered without touching this test.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { API_RATE_LIMIT_PER_SECOND: '10000', API_RATE_LIMIT_BURST: '10000' } });
});
afterAll(() => stack?.stop());

const HOSTILE_TEXT = {
  NUL: 'a\u0000b',
  'lone surrogate': 'x\udc00',
  'long text': 'x'.repeat(100_000),
  'uuid-shaped dashes': '-'.repeat(36),
  'a cursor of dashes': Buffer.from(`1700000000000:${'-'.repeat(36)}`).toString('base64url'),
  'a cursor of a far future': Buffer.from(`999999999999999:00000000-0000-0000-0000-000000000000`).toString('base64url'),
  'global id of another type': Buffer.from('ApiKey:00000000-0000-0000-0000-000000000000').toString('base64'),
  'global id with a bad uuid': Buffer.from(`Task:${'z'.repeat(36)}`).toString('base64'),
  SQL: "'; drop table tasks; --",
  'URL to loopback': 'http://127.0.0.1:1/x',
  'not a URL': 'http://[::1',
  empty: '',
};
const HOSTILE_INTS = [-1, 0, 2_147_483_647, -2_147_483_648];

/** A value of `type` whose every text leaf is `text` and every number `int`. */
function valueFor(type: GraphQLInputType, text: string, int: number): unknown {
  if (isNonNullType(type)) return valueFor(type.ofType, text, int);
  if (isListType(type)) return [valueFor(type.ofType, text, int)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => getNamedType(f.type).name !== 'File');
    // @oneOf inputs take exactly one field.
    const chosen = type.isOneOf ? fields.slice(0, 1) : fields;
    return Object.fromEntries(chosen.map((f) => [f.name, valueFor(f.type, text, int)]));
  }
  if (isScalarType(type)) {
    if (type.name === 'Int') return int;
    if (type.name === 'Float') return int * 1.5;
    if (type.name === 'Boolean') return true;
    return text;
  }
  return null;
}

function operation(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>): string {
  const args = field.args as GraphQLArgument[];
  const defs = args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const uses = args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind} (${defs}) { ${field.name}(${uses})${selection} }`;
}

function variables(field: GraphQLField<unknown, unknown>, text: string, int: number): Record<string, unknown> {
  return Object.fromEntries(field.args.map((a) => [a.name, valueFor(a.type, text, int)]));
}

const roots = (['query', 'mutation', 'subscription'] as const).flatMap((kind) => {
  const type =
    kind === 'query'
      ? schema.getQueryType()
      : kind === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  return Object.values(type!.getFields())
    .filter((f) => f.args.length > 0)
    .map((field) => ({ kind, field, name: `${kind} ${field.name}` }));
});

function unexpected(
  errors: readonly { message: string; extensions?: Record<string, unknown> }[] | undefined,
): string[] {
  return (errors ?? [])
    .filter((e) => e.message === 'Unexpected error.' || e.extensions?.code === 'INTERNAL_SERVER_ERROR')
    .map((e) => e.message);
}

describe('no input ends in "Unexpected error."', () => {
  it('covers every root field with arguments', () => {
    expect(roots.map((r) => r.name)).toEqual(
      expect.arrayContaining(['query task', 'query tasks', 'mutation createAvatarVideo', 'subscription taskEvents']),
    );
  });

  it.each(roots.filter((r) => r.kind !== 'subscription'))('$name', async ({ kind, field }) => {
    const query = operation(kind, field);
    const failures: string[] = [];
    for (const [name, text] of Object.entries(HOSTILE_TEXT)) {
      for (const int of HOSTILE_INTS) {
        const res = await stack.gql(query, variables(field, text, int));
        if (res.status >= 500 || unexpected(res.errors).length > 0)
          failures.push(`${name} / ${int}: ${res.status} ${JSON.stringify(res.errors)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it.each(roots.filter((r) => r.kind === 'subscription'))('$name over WebSocket', async ({ field }) => {
    const query = operation('subscription', field);
    const client = stack.ws();
    const failures: string[] = [];
    for (const [name, text] of Object.entries(HOSTILE_TEXT)) {
      const outcome = await new Promise<unknown>((resolve) => {
        const dispose = client.subscribe(
          { query, variables: variables(field, text, 1) },
          {
            next: (value) => {
              dispose();
              resolve(value);
            },
            error: resolve,
            complete: () => resolve('complete'),
          },
        );
      });
      const errors = Array.isArray(outcome) ? outcome : (outcome as { errors?: [] })?.errors;
      if (unexpected(errors).length > 0 || outcome instanceof Error)
        failures.push(`${name}: ${JSON.stringify(outcome)}`);
    }
    expect(failures).toEqual([]);
  });
});
