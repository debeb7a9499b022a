import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startStack, type Stack } from '../support/stack.js';

/**
 * What a server tells strangers about itself. In production: no schema by introspection on any
 * transport, no "Did you mean" from any phase. In every mode: no internals in an error (they go to
 * the log), and /metrics only to who may scrape it.
 */
let production: Stack;
let development: Stack;
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
beforeAll(async () => {
  [production, development] = await Promise.all([
    startStack({ env: { NODE_ENV: 'production', METRICS_TOKEN } }),
    startStack({ env: { NODE_ENV: 'development', METRICS_PORT: '0' } }),
  ]);
});
afterAll(() => Promise.all([production?.stop(), development?.stop()]));

/** Runs an operation over WebSocket and returns what came back: the first result, or the errors. */
function overWs(
  stack: Stack,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ data?: unknown; errors?: { message: string }[] }> {
  const client = stack.ws();
  return new Promise((resolve) => {
    client.subscribe(
      { query, ...(variables ? { variables } : {}) },
      {
        next: (result) => resolve(result as { data?: unknown; errors?: { message: string }[] }),
        error: (errors) =>
          resolve({
            errors: Array.isArray(errors) ? errors : [{ message: String((errors as Error)?.message ?? errors) }],
          }),
        complete: () => {},
      },
    );
  });
}

const introspection = [
  '{ __schema { types { name } } }',
  '{ __type(name: "Task") { fields { name } } }',
  'subscription { __schema { queryType { name } } }',
];

describe('production hides the schema', () => {
  it.each(introspection)('refuses %s over HTTP and over WebSocket', async (query) => {
    const http = await production.gql(query);
    expect(http.data).toBeUndefined();
    expect(http.errors?.[0]?.message).toMatch(/introspection/i);
    const ws = await overWs(production, query);
    expect(ws.data).toBeUndefined();
    expect(ws.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('still answers __typename', async () => {
    expect((await production.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  const suggesting: [string, string, Record<string, unknown> | undefined][] = [
    ['a misspelt field', '{ taks { totalCount } }', undefined],
    ['a misspelt enum value inline', '{ tasks(filter: { statuses: [PENDIN] }) { totalCount } }', undefined],
    [
      'a misspelt input field in variables',
      'query ($f: TaskFilter) { tasks(filter: $f) { totalCount } }',
      { f: { statusess: ['PENDING'] } },
    ],
    [
      'a misspelt enum value in variables',
      'query ($f: TaskFilter) { tasks(filter: $f) { totalCount } }',
      { f: { statuses: ['PENDIN'] } },
    ],
    ['a misspelt argument', '{ tasks(frist: 1) { totalCount } }', undefined],
  ];

  it.each(suggesting)('gives no suggestion for %s, on either transport', async (_name, query, variables) => {
    for (const result of [await production.gql(query, variables), await overWs(production, query, variables)]) {
      expect(result.errors?.length).toBeGreaterThan(0);
      expect(JSON.stringify(result.errors)).not.toMatch(/did you mean/i);
    }
    // The same mistake in development mode does get its suggestion: the test would see one.
    const dev = await development.gql(query, variables);
    expect(JSON.stringify(dev.errors)).toMatch(/did you mean/i);
  });
});

describe('errors never carry internals', () => {
  it.each(['production', 'development'] as const)(
    'in %s mode, an unexpected failure is "Unexpected error." with nothing else',
    async (mode) => {
      const stack = mode === 'production' ? production : development;
      const original = stack.app.tasks.cancel.bind(stack.app.tasks);
      stack.app.tasks.cancel = async () => {
        throw new Error('select * from "tasks" where "secret" = $1 -- params: ["hunter2"]');
      };
      try {
        for (const result of [
          await stack.gql(
            'mutation { cancelTask(id: "VGFzazowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=") { id } }',
          ),
          await overWs(
            stack,
            'mutation { cancelTask(id: "VGFzazowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=") { id } }',
          ),
        ]) {
          const text = JSON.stringify(result.errors);
          expect(result.errors?.[0]?.message).toBe('Unexpected error.');
          expect(text).not.toMatch(/secret|hunter2|select|originalError|stack/);
        }
      } finally {
        stack.app.tasks.cancel = original;
      }
    },
  );
});

describe('/metrics', () => {
  it('with METRICS_TOKEN, answers only a bearer of the token', async () => {
    const none = await request(`${production.url}/metrics`);
    expect(none.statusCode).toBe(401);
    expect(await none.body.text()).not.toMatch(/clipwire_/);
    const wrong = await request(`${production.url}/metrics`, {
      headers: { authorization: 'Bearer not-the-token-at-all' },
    });
    expect(wrong.statusCode).toBe(401);
    await wrong.body.dump();
    const right = await request(`${production.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.statusCode).toBe(200);
    expect(await right.body.text()).toMatch(/clipwire_http_requests_total/);
  });

  it('with METRICS_PORT, is served there and not on the public port', async () => {
    const publicPort = await request(`${development.url}/metrics`);
    expect(publicPort.statusCode).toBe(404);
    await publicPort.body.dump();
    const url = development.app.metricsUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const scraped = await request(url!);
    expect(scraped.statusCode).toBe(200);
    expect(await scraped.body.text()).toMatch(/clipwire_http_requests_total/);
  });
});
