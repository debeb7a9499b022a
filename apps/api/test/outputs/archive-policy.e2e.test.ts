import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { tasks } from '@clipwire/schema/tables';
import { eq, sql } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { OUTPUT_GONE_MESSAGE } from '../../src/outputs/route.js';
import { findTaskById } from '../../src/tasks/repository.js';
import { uuidOf } from '../support/ids.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/*
 * The archive's edges: an output over the size cap, ARCHIVE_OUTPUTS=false, and the retention policy
 * (OUTPUT_RETENTION_DAYS) deleting what is old enough and nothing else. Real simulator over HTTP, the
 * real file store.
 */

const TASK = `query ($id: ID!) { task(id: $id) { status
  videos { url watermarkUrl providerUrl providerWatermarkUrl archiveStatus }
  events { edges { node { status type } } } } }`;

async function createAvatar(stack: Stack, extra: Record<string, unknown> = {}): Promise<string> {
  const created = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, ...extra } });
  return created.data!.createAvatarVideo.id as string;
}

async function settled(stack: Stack, id: string): Promise<Record<string, any>> {
  return eventually(
    async () => {
      const task = (await stack.gql(TASK, { id })).data?.task;
      return task?.status === 'SUCCEEDED' && task.videos.every((v: any) => v.archiveStatus !== 'PENDING') ? task : null;
    },
    20_000,
    `task ${id}'s archive to settle`,
  );
}

/** Every object of the file store, by key (its .tmp/ of unfinished writes aside). */
async function storedKeys(stack: Stack): Promise<string[]> {
  const root = (stack.app.services.objects as unknown as { root: string }).root;
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .filter((key) => !key.startsWith('.tmp'))
    .sort();
}

const get = async (url: string) => {
  const res = await request(url);
  const text = Buffer.from(await res.body.arrayBuffer()).toString('utf8');
  return { status: res.statusCode, text };
};

describe('an output larger than ARCHIVE_MAX_BYTES', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { ARCHIVE_MAX_BYTES: '1000' } });
  });
  afterAll(() => stack?.stop());

  it('is not stored: the archive ends FAILED with its event, the links stay the provider’s, nothing is left in the store', async () => {
    const id = await createAvatar(stack, { kling: { watermark: true } });
    const task = await settled(stack, id);
    const [video] = task.videos;
    expect(video.archiveStatus).toBe('FAILED');
    expect(video.url).toBe(video.providerUrl);
    expect(video.watermarkUrl).toBe(video.providerWatermarkUrl);
    expect(video.url).toContain(stack.sim.url);
    expect(task.events.edges.at(-1).node).toEqual({ status: 'SUCCEEDED', type: 'OUTPUTS_ARCHIVE_FAILED' });
    const row = await findTaskById(stack.app.db.db, uuidOf(id));
    expect(row!.output.videos[0]!.archive!.error).toMatch(/url: .*over the 1000-byte limit/);
    expect(row!.output.archive?.status).toBe('FAILED');
    // Refused on the provider's Content-Length: not retried, not half written.
    expect((await storedKeys(stack)).filter((k) => k.startsWith('outputs/'))).toEqual([]);
  });
});

describe('ARCHIVE_OUTPUTS=false', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { ARCHIVE_OUTPUTS: 'false' } });
  });
  afterAll(() => stack?.stop());

  it('keeps the provider’s links: archiveStatus null, no archive event, no job, nothing stored', async () => {
    const id = await createAvatar(stack);
    const task = await stack.waitForFinal(
      id,
      'videos { url providerUrl archiveStatus } events { edges { node { type } } }',
    );
    expect(task.status).toBe('SUCCEEDED');
    expect(task.videos[0]).toEqual({
      url: task.videos[0].providerUrl,
      providerUrl: expect.stringContaining(stack.sim.url),
      archiveStatus: null,
    });
    expect(task.events.edges.every((e: any) => e.node.type === 'STATUS_CHANGED')).toBe(true);
    const queued = rowsOf<{ n: number }>(
      await stack.app.db.db.execute(sql`select count(*)::int as n from jobs where queue = 'archive'`),
    );
    expect(queued).toEqual([{ n: 0 }]);
    expect((await storedKeys(stack)).filter((k) => k.startsWith('outputs/'))).toEqual([]);
  });
});

describe('OUTPUT_RETENTION_DAYS', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { OUTPUT_RETENTION_DAYS: '7' } });
  });
  afterAll(() => stack?.stop());

  it('deletes the archived outputs of tasks finished longer ago, whose links then answer 410 Gone, and nothing else', async () => {
    const oldId = await createAvatar(stack, { kling: { watermark: true } });
    const recentId = await createAvatar(stack);
    const old = await settled(stack, oldId);
    const recent = await settled(stack, recentId);
    expect(old.videos[0].archiveStatus).toBe('ARCHIVED');
    expect(recent.videos[0].archiveStatus).toBe('ARCHIVED');
    // Something else in the store, under another prefix (a task's input), must survive the sweep.
    const { objects } = stack.app.services;
    const oldRow = (await findTaskById(stack.app.db.db, uuidOf(oldId)))!;
    const inputKey = `inputs/${oldRow.tenantId}/00000000-0000-4000-8000-000000000000`;
    await objects.put(inputKey, Buffer.from('an input'), { contentType: 'application/octet-stream' });
    const before = await storedKeys(stack);
    const oldPrefix = `outputs/${oldRow.tenantId}/${oldRow.id}/`;
    expect(before.filter((k) => k.startsWith(oldPrefix))).toEqual([
      `${oldPrefix}video-0-watermarked.mp4`,
      `${oldPrefix}video-0.mp4`,
    ]);

    // The older task finished 8 days ago: past the 7 days.
    await stack.app.db.db
      .update(tasks)
      .set({ completedAt: sql`now() - interval '8 days'` })
      .where(eq(tasks.id, oldRow.id));
    expect(await stack.app.services.archiver.sweepRetention()).toBe(1);

    expect(await storedKeys(stack)).toEqual(before.filter((k) => !k.startsWith(oldPrefix)));
    expect(await storedKeys(stack)).toContain(inputKey);
    for (const url of [old.videos[0].url, old.videos[0].watermarkUrl]) {
      const gone = await get(url);
      expect(gone.status).toBe(410);
      expect(JSON.parse(gone.text).error).toBe(OUTPUT_GONE_MESSAGE);
    }
    const after = (await stack.gql(TASK, { id: oldId })).data!.task;
    expect(after.videos[0]).toMatchObject({ archiveStatus: 'DELETED', url: old.videos[0].url });
    // The recent task's outputs are untouched and still served.
    expect((await get(recent.videos[0].url)).status).toBe(200);
    expect((await stack.gql(TASK, { id: recentId })).data!.task.videos[0].archiveStatus).toBe('ARCHIVED');
    // A second sweep finds nothing more.
    expect(await stack.app.services.archiver.sweepRetention()).toBe(0);

    // deleteTask (right to erasure) removes a task's archived outputs at once: its links answer 410.
    const erased = await stack.gql(
      `mutation ($id: ID!) { deleteTask(id: $id) { erasedAt videos { archiveStatus } } }`,
      {
        id: recentId,
      },
    );
    expect(erased.data!.deleteTask.videos[0].archiveStatus).toBe('DELETED');
    expect((await get(recent.videos[0].url)).status).toBe(410);
    expect((await storedKeys(stack)).filter((k) => k.startsWith('outputs/'))).toEqual([]);
  });
});

describe('a provider link that fails for a while', () => {
  let stack: Stack;
  let flaky: Server;
  let origin = '';
  let failuresLeft = 0;
  let requests = 0;
  beforeAll(async () => {
    // A provider's file server on loopback: 503 while `failuresLeft`, then the file.
    flaky = createServer((_req, res) => {
      requests++;
      if (failuresLeft === -1 || failuresLeft-- > 0) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': 6 }).end('mp4!!!');
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    // A sandboxed provider's base URL is the one private origin the SSRF-safe client may reach.
    stack = await startStack({ env: { DIGITAL_HUMAN_BASE_URL: origin } });
  });
  afterAll(async () => {
    await stack?.stop();
    flaky?.closeAllConnections();
    await new Promise((resolve) => flaky?.close(resolve));
  });

  /** A SUCCEEDED task whose video is `url` on the flaky server, its archive PENDING and queued again. */
  async function archiveAgain(id: string, providerUrlExpiresAt: Date): Promise<void> {
    const row = (await findTaskById(stack.app.db.db, uuidOf(id)))!;
    const video = { ...row.output.videos[0]!, url: `${origin}/out.mp4`, watermarkUrl: null };
    const output = {
      videos: [
        {
          ...video,
          providerUrlExpiresAt: providerUrlExpiresAt.toISOString(),
          archive: { status: 'PENDING' as const, files: {} },
        },
      ],
      audios: [],
      archive: { status: 'PENDING' as const },
    };
    await stack.app.db.db.update(tasks).set({ output }).where(eq(tasks.id, row.id));
    await stack.app.services.jobs.enqueue(stack.app.db.db, { queue: 'archive', payload: { taskId: row.id } });
    stack.app.services.jobs.nudge(['archive']);
  }

  it('is retried with backoff while it lives (ARCHIVED once it answers), and FAILED once its next try would come after its documented expiry', async () => {
    const id = await createAvatar(stack);
    await settled(stack, id);

    failuresLeft = 2;
    requests = 0;
    await archiveAgain(id, new Date(Date.now() + 3_600_000));
    const archived = await settled(stack, id);
    expect(archived.videos[0].archiveStatus).toBe('ARCHIVED');
    expect(requests).toBe(3);
    expect((await get(archived.videos[0].url)).text).toBe('mp4!!!');

    // Never answering, its documented life over in 1.5 s: retried while a try can come before then, then given up.
    failuresLeft = -1;
    requests = 0;
    const started = Date.now();
    await archiveAgain(id, new Date(started + 1500));
    const failed = await settled(stack, id);
    expect(failed.videos[0]).toMatchObject({ archiveStatus: 'FAILED', url: `${origin}/out.mp4` });
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(failed.events.edges.at(-1).node).toEqual({ status: 'SUCCEEDED', type: 'OUTPUTS_ARCHIVE_FAILED' });
    const row = await findTaskById(stack.app.db.db, uuidOf(id));
    expect(row!.output.videos[0]!.archive!.error).toMatch(/^url: .*answered HTTP 503/);
  });
});
