import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/**
 * The GraphQL endpoint's body limit (lowered here to 64 KiB): a body over it is refused with 413
 * before anything runs, whether the request declares its length or streams it chunked, and a body
 * up to the limit is served.
 */
const LIMIT = 64 * 1024;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ maxGraphQLBodyBytes: LIMIT });
});
afterAll(() => stack?.stop());

const headers = () => ({ 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}` });

/** The body as a stream of 4 KiB chunks: fetch sends it chunked, with no Content-Length. */
function chunked(body: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(body);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, (at += 4096)));
    },
  });
}

async function post(
  body: string,
  stream: boolean,
): Promise<{
  status: number;
  json: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
  chunked: boolean;
}> {
  const res = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: headers(),
    body: stream ? chunked(body) : body,
    ...(stream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, json: (await res.json()) as any, chunked: stream };
}

async function taskCount(): Promise<number> {
  const res = await stack.gql('{ tasks(first: 100) { edges { node { id } } } }');
  return res.data!.tasks.edges.length;
}

/** A document padded with blanks (not tokens) to exactly `bytes` bytes. */
function paddedTo(bytes: number): string {
  const body = JSON.stringify({ query: '{ providers { provider } }' });
  return `${body.slice(0, -1) + ' '.repeat(bytes - body.length)}}`;
}

describe('GraphQL request body limit', () => {
  const create = JSON.stringify({ query: CREATE_AVATAR, variables: { input: SAMPLE_INPUT } });

  it('the inline create used below is over the limit', () => {
    expect(Buffer.byteLength(create)).toBeGreaterThan(LIMIT);
  });

  it.each([false, true])(
    'refuses a create over the limit with 413 and creates nothing (chunked: %s)',
    async (stream) => {
      const before = await taskCount();
      const res = await post(create, stream);
      expect(res.status).toBe(413);
      expect(res.json.data).toBeUndefined();
      expect(res.json.errors?.[0]?.extensions?.code).toBe('REQUEST_ENTITY_TOO_LARGE');
      expect(await taskCount()).toBe(before);
    },
  );

  it.each([false, true])(
    'serves a body of exactly the limit and refuses one byte more (chunked: %s)',
    async (stream) => {
      const exact = paddedTo(LIMIT);
      expect(Buffer.byteLength(exact)).toBe(LIMIT);
      const ok = await post(exact, stream);
      expect(ok.status).toBe(200);
      expect(ok.json.data?.providers.length).toBeGreaterThan(0);
      const over = await post(paddedTo(LIMIT + 1), stream);
      expect(over.status).toBe(413);
      expect(over.json.errors?.[0]?.extensions?.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    },
  );
});
