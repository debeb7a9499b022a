import { parseBuffer } from 'music-metadata';
import { sql } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/client.js';
import { uuidOf } from './support/ids.js';
import { KLING_AVATAR_PATH, startRecordingProxy, type RecordingProxy } from './support/proxy.js';
import { collect, CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let proxy: RecordingProxy;
beforeAll(async () => {
  // Kling is reached through a proxy that can hold a request on the way.
  proxy = await startRecordingProxy();
  stack = await startStack({
    kling: { timing: { processingAfterMs: 600, succeedAfterMs: 1300 } },
    env: { KLING_BASE_URL: proxy.url },
  });
  proxy.setTarget(stack.sim.url);
});
afterAll(async () => {
  await stack?.stop();
  await proxy?.stop();
});

const TASK_UPDATED = /* GraphQL */ `
  subscription Watch($id: ID!) {
    taskUpdated(id: $id) { id status statusMessage providerTaskId videos { url durationSeconds } completedAt }
  }
`;

describe('an avatar task from mutation to live subscription', () => {
  it('streams PENDING → SUBMITTED → PROCESSING → SUCCEEDED with a playable video, then is found by list and by externalTaskId', async () => {
    // Kling's create is held on the way until the subscriber has seen the task PENDING (however long
    // subscribing takes on a loaded machine).
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    proxy.setGate((r) => (r.method === 'POST' && r.path === KLING_AVATAR_PATH ? held : undefined));
    let task: { id: string };
    let updates: { data?: { taskUpdated: any } | null }[];
    try {
      const created = await stack.gql(CREATE_AVATAR, {
        input: { ...SAMPLE_INPUT, prompt: 'smile', externalTaskId: 'e2e-1' },
      });
      expect(created.status).toBe(200);
      task = created.data!.createAvatarVideo;
      expect(task).toMatchObject({ __typename: 'Task', status: 'PENDING', externalTaskId: 'e2e-1' });

      const client = stack.ws();
      updates = await collect(
        releasingAfterFirst(
          client.iterate<{ taskUpdated: any }>({ query: TASK_UPDATED, variables: { id: task.id } }),
          release,
        ),
      );
    } finally {
      release();
      proxy.setGate(null);
    }
    const statuses = updates.map((u) => u.data!.taskUpdated.status);
    expect(statuses).toEqual(['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED']);

    const final = updates.at(-1)!.data!.taskUpdated;
    expect(final.providerTaskId).toBeTruthy();
    expect(final.completedAt).toBeTruthy();
    expect(final.videos).toHaveLength(1);
    expect(final.videos[0].durationSeconds).toBeGreaterThan(0);

    // The video URL serves a real, playable MP4: an ISO-BMFF container with a duration and tracks.
    const res = await request(final.videos[0].url);
    expect(res.statusCode).toBe(200);
    const bytes = Buffer.from(await res.body.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    const meta = await parseBuffer(bytes, { mimeType: 'video/mp4' });
    expect(meta.format.duration).toBeGreaterThan(1);
    expect(meta.format.container?.toLowerCase()).toMatch(/mp4|isom|m4a/);
    expect(meta.format.trackInfo.length).toBeGreaterThanOrEqual(2); // video and sound

    // The final change (a prepared statement binding each field it sets) stored real SQL NULLs where it
    // cleared fields, not JSON nulls, and the output and completion time it was given.
    const [row] = rowsOf(
      await stack.app.db.db.execute(
        sql`select provider_request is null as request_cleared, next_poll_at is null as poll_cleared, jsonb_typeof(output) as output_type, completed_at is not null as completed from tasks where id = ${uuidOf(task.id)}`,
      ),
    );
    expect(row).toEqual({ request_cleared: true, poll_cleared: true, output_type: 'object', completed: true });

    // Kling received exactly one create, carrying our task id as its external_task_id.
    expect(stack.sim.kling.createCount()).toBe(1);

    const listed = await stack.gql(`{ tasks(first: 10) { edges { node { id status } } } }`);
    expect(listed.data!.tasks.edges.map((e: any) => e.node)).toContainEqual({ id: task.id, status: 'SUCCEEDED' });

    // The SUCCEEDED update carried the provider's link (its copy into storage comes after: outputs/).
    const byExternal = await stack.gql(`{ task(externalTaskId: "e2e-1") { id status videos { providerUrl } } }`);
    expect(byExternal.data!.task).toEqual({
      id: task.id,
      status: 'SUCCEEDED',
      videos: [{ providerUrl: final.videos[0].url }],
    });

    const byId = await stack.gql(
      `query ($id: ID!) { task(id: $id) { externalTaskId events { edges { node { status source type } } } } }`,
      { id: task.id },
    );
    expect(byId.data!.task.externalTaskId).toBe('e2e-1');
    const changes = byId.data!.task.events.edges.filter((e: any) => e.node.type === 'STATUS_CHANGED');
    expect(changes.map((e: any) => e.node.status)).toEqual(['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED']);
  });

  it('subscribing to a task that is already final yields its state once and completes', async () => {
    const created = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: 'e2e-final' } });
    const id = created.data!.createAvatarVideo.id;
    const first = await collect(stack.ws().iterate<{ taskUpdated: any }>({ query: TASK_UPDATED, variables: { id } }));
    expect(first.at(-1)!.data!.taskUpdated.status).toBe('SUCCEEDED');
    const again = await collect(
      stack.ws().iterate<{ taskUpdated: any }>({ query: TASK_UPDATED, variables: { id } }),
      3000,
    );
    expect(again.map((u) => u.data!.taskUpdated.status)).toEqual(['SUCCEEDED']);
  });

  it('serves the console page at /', async () => {
    const res = await request(`${stack.url}/`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(await res.body.text()).toMatch(/<title>Clipwire/);
  });

  it('answers /healthz and /readyz with the database and its migrations checked', async () => {
    const health = await request(`${stack.url}/healthz`);
    expect(health.statusCode).toBe(200);
    const ready = await request(`${stack.url}/readyz`);
    expect(ready.statusCode).toBe(200);
    expect(await ready.body.json()).toEqual({
      status: 'ready',
      database: process.env.DATABASE_URL ? 'postgres' : 'pglite',
    });
  });
});

/** Passes every value through; calls `onFirst` once the first has been taken. */
async function* releasingAfterFirst<T>(values: AsyncIterable<T>, onFirst: () => void): AsyncGenerator<T> {
  let first = true;
  for await (const value of values) {
    yield value;
    if (first) {
      first = false;
      onFirst();
    }
  }
}
