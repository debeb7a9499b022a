import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let ids: string[] = [];
beforeAll(async () => {
  stack = await startStack();
  const { apiKey } = await stack.newTenant('paging');
  stack.apiKey = apiKey;
  for (let i = 0; i < 7; i++) {
    const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: `page-${i}` } }, apiKey);
    ids.push(res.data!.createAvatarVideo.id);
  }
  ids = ids.reverse(); // newest first
});
afterAll(() => stack?.stop());

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $last: Int, $before: String) {
    tasks(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id externalTaskId } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

describe('tasks connection', () => {
  it('pages forward newest first with a keyset cursor, each task exactly once', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await stack.gql(PAGE, { first: 3, after }, stack.apiKey);
      const conn = res.data!.tasks;
      seen.push(...conn.edges.map((e: any) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(ids);
  });

  it('pages backward with last/before', async () => {
    const first = await stack.gql(PAGE, { first: 4 }, stack.apiKey);
    const cursor = first.data!.tasks.edges[3].cursor;
    const back = await stack.gql(PAGE, { last: 2, before: cursor }, stack.apiKey);
    expect(back.data!.tasks.edges.map((e: any) => e.node.id)).toEqual(ids.slice(1, 3));
    expect(back.data!.tasks.pageInfo.hasPreviousPage).toBe(true);
  });

  it('filters by lists of statuses, kinds and providers, in the page and in totalCount', async () => {
    const { apiKey } = await stack.newTenant('filters');
    const succeeded: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: `filter-${i}` } }, apiKey);
      succeeded.unshift(res.data!.createAvatarVideo.id);
    }
    await stack.waitForAllFinal(apiKey);
    const created = await stack.gql(
      CREATE_AVATAR,
      { input: { ...SAMPLE_INPUT, externalTaskId: 'filter-canceled' } },
      apiKey,
    );
    const canceledId = created.data!.createAvatarVideo.id;
    const canceled = await stack.gql(
      'mutation ($id: ID!) { cancelTask(id: $id) { status } }',
      { id: canceledId },
      apiKey,
    );
    expect(canceled.data!.cancelTask.status).toBe('CANCELED');

    const FILTERED =
      'query ($filter: TaskFilter) { tasks(first: 50, filter: $filter) { totalCount edges { node { id status } } } }';
    const page = async (filter: Record<string, string[]>) => {
      const res = await stack.gql(FILTERED, { filter }, apiKey);
      expect(res.errors).toBeUndefined();
      const ids = res.data!.tasks.edges.map((e: any) => e.node.id);
      expect(res.data!.tasks.totalCount).toBe(ids.length);
      return ids;
    };
    expect(await page({ statuses: ['SUCCEEDED'] })).toEqual(succeeded);
    expect(await page({ statuses: ['CANCELED'] })).toEqual([canceledId]);
    expect(await page({ statuses: ['SUCCEEDED', 'CANCELED'] })).toEqual([canceledId, ...succeeded]);
    expect(await page({ statuses: ['FAILED', 'PENDING', 'PROCESSING'] })).toEqual([]);
    expect(
      await page({ statuses: ['CANCELED', 'FAILED'], kinds: ['AVATAR_VIDEO'], providers: ['KLING', 'KIE'] }),
    ).toEqual([canceledId]);
    expect(await page({ providers: ['KIE', 'DIGITAL_HUMAN'] })).toEqual([]);
    expect(await page({ kinds: ['VIDEO_SOUND'] })).toEqual([]);
  });

  it('filters by creation range and by externalTaskId prefix (taken literally), in the page and in totalCount', async () => {
    const ALL =
      'query ($filter: TaskFilter) { tasks(first: 100, filter: $filter) { totalCount edges { node { id externalTaskId createdAt } } } }';
    const list = async (filter: Record<string, unknown> | null) => {
      const res = await stack.gql(ALL, { filter }, stack.apiKey);
      expect(res.errors).toBeUndefined();
      const nodes = res.data!.tasks.edges.map((e: any) => e.node) as {
        id: string;
        externalTaskId: string;
        createdAt: string;
      }[];
      expect(res.data!.tasks.totalCount).toBe(nodes.length);
      return nodes;
    };
    const all = await list(null);
    expect(all.length).toBeGreaterThanOrEqual(7);

    // A window that starts at one task's creation and ends at a later one's: the first is in, the last is out.
    const from = all[4]!.createdAt;
    const to = all[1]!.createdAt;
    const expected = all.filter((t) => t.createdAt >= from && t.createdAt < to).map((t) => t.id);
    expect(expected.length).toBeGreaterThan(0);
    expect((await list({ createdFrom: from, createdTo: to })).map((t) => t.id)).toEqual(expected);
    expect((await list({ createdFrom: all[0]!.createdAt })).map((t) => t.id)).toContain(all[0]!.id);
    expect(await list({ createdTo: all.at(-1)!.createdAt })).toEqual([]);

    const prefixed = all.filter((t) => t.externalTaskId?.startsWith('page-')).map((t) => t.id);
    expect(prefixed).toHaveLength(7);
    expect((await list({ externalTaskIdPrefix: 'page-' })).map((t) => t.id)).toEqual(prefixed);
    expect((await list({ externalTaskIdPrefix: 'page-3' })).map((t) => t.externalTaskId)).toEqual(['page-3']);
    // No LIKE wildcards: "_" and "%" are characters, not patterns.
    expect(await list({ externalTaskIdPrefix: 'page_' })).toEqual([]);
    expect(await list({ externalTaskIdPrefix: '%' })).toEqual([]);
  });

  it('refuses a creation range that ends before it starts, naming the field', async () => {
    const res = await stack.gql(
      'query ($filter: TaskFilter) { tasks(first: 5, filter: $filter) { totalCount } }',
      { filter: { createdFrom: '2026-01-02T00:00:00Z', createdTo: '2026-01-01T00:00:00Z' } },
      stack.apiKey,
    );
    expect(res.errors?.[0]?.message).toBe('filter.createdTo: must be after filter.createdFrom');
  });

  it('rejects a cursor it did not issue, naming the argument', async () => {
    const res = await stack.gql(PAGE, { first: 2, after: 'bm90LWEtY3Vyc29y' }, stack.apiKey);
    expect(res.errors?.[0]?.message).toMatch(/after/);
  });

  it('refuses an externalTaskId the tenant already used for another input with a typed error naming that task, and creates nothing', async () => {
    const res = await stack.gql(
      CREATE_AVATAR,
      { input: { ...SAMPLE_INPUT, prompt: 'another input', externalTaskId: 'page-0' } },
      stack.apiKey,
    );
    expect(res.data!.createAvatarVideo).toMatchObject({
      __typename: 'DuplicateExternalTaskId',
      externalTaskId: 'page-0',
      task: { id: ids.at(-1) }, // page-0, the oldest
    });
    const all = await stack.gql(PAGE, { first: 50 }, stack.apiKey);
    expect(all.data!.tasks.edges).toHaveLength(7);
  });

  it('returns a ValidationError naming each bad field, and creates nothing', async () => {
    // The tasks created above are submitted in the background: let them finish so their creates are counted before.
    await stack.waitForAllFinal(stack.apiKey);
    const before = stack.sim.kling.createCount();
    const res = await stack.gql(
      CREATE_AVATAR,
      {
        input: {
          image: { base64: 'data:image/png;base64,AAAA' },
          audio: { url: 'https://example.com/a.mp3' },
          kling: { audioId: 'tts-1' },
          prompt: 'x'.repeat(2501),
          externalTaskId: 'bad id with spaces',
        },
      },
      stack.apiKey,
    );
    const result = res.data!.createAvatarVideo;
    expect(result.__typename).toBe('ValidationError');
    const paths = result.issues.map((i: any) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining(['input.image.base64', 'input.audio', 'input.prompt', 'input.externalTaskId']),
    );
    expect(result.issues.find((i: any) => i.path.join('.') === 'input.prompt').message).toMatch(/2500/);
    expect(stack.sim.kling.createCount()).toBe(before); // and no task was written (below): nothing can be submitted later
    const all = await stack.gql(PAGE, { first: 50 }, stack.apiKey);
    expect(all.data!.tasks.edges).toHaveLength(7);
  });

  it('refuses a MediaInput with both url and base64 (@oneOf)', async () => {
    const res = await stack.gql(
      CREATE_AVATAR,
      { input: { image: { url: 'https://example.com/a.png', base64: 'AAAA' }, kling: { audioId: 'x' } } },
      stack.apiKey,
    );
    expect(res.errors?.[0]?.message).toMatch(/exactly one key/i);
  });
});
