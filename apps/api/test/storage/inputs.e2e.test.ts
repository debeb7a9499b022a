import { existsSync } from 'node:fs';
import { mediaObjects } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/crypto.js';
import type { FsStore } from '../../src/storage/fs-store.js';
import { uuidOf } from '../support/ids.js';
import { startS3, type TestS3 } from '../support/s3.js';
import { CREATE_AVATAR, fixture, startStack, type Stack } from '../support/stack.js';

async function bytesOf(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const b64 = (name: string) => ({ base64: fixture(name).toString('base64') });

/** The stored media rows of a task (by its relay id), by their mime type. */
async function mediaOf(stack: Stack, taskId: string) {
  const rows = await stack.app.db.db
    .select()
    .from(mediaObjects)
    .where(eq(mediaObjects.taskId, uuidOf(taskId)));
  return new Map(rows.map((row) => [row.mime, row]));
}

type Backend = 'fs' | 's3' | 's3 with a public endpoint';

describe.each<Backend>(['fs', 's3', 's3 with a public endpoint'])('task inputs in the %s store', (backend) => {
  let stack: Stack;
  let s3: TestS3 | undefined;
  beforeAll(async () => {
    if (backend !== 'fs') s3 = await startS3();
    const env = s3 ? { ...s3.env, ...(backend === 's3' ? {} : { S3_PUBLIC_ENDPOINT: s3.endpoint }) } : {};
    stack = await startStack({ env });
  });
  afterAll(async () => {
    await stack?.stop();
    await s3?.stop();
  });

  it('a Kling task with inline media is submitted with exactly the bytes sent; the database keeps only their metadata', async () => {
    const created = await stack.gql(CREATE_AVATAR, {
      input: { image: b64('portrait-512x640.png'), audio: b64('speech-3s.mp3') },
    });
    const task = created.data!.createAvatarVideo;
    expect(task.__typename, JSON.stringify(created)).toBe('Task');
    expect((await stack.waitForFinal(task.id, 'status')).status).toBe('SUCCEEDED');

    const sent = stack.sim.kling.lastCreateBody(uuidOf(task.id))!;
    expect(sent.image).toBe(fixture('portrait-512x640.png').toString('base64'));
    expect(sent.sound_file).toBe(fixture('speech-3s.mp3').toString('base64'));

    const media = await mediaOf(stack, task.id);
    expect([...media.keys()].sort()).toEqual(['audio/mpeg', 'image/png']);
    for (const [mime, name] of [
      ['image/png', 'portrait-512x640.png'],
      ['audio/mpeg', 'speech-3s.mp3'],
    ] as const) {
      const row = media.get(mime)!;
      expect(row.bytes).toBeNull();
      expect(row.storageKey).toBe(`inputs/${row.tenantId}/${row.id}`);
      expect(row).toMatchObject({ sizeBytes: fixture(name).length, sha256: sha256Hex(fixture(name)) });
      const object = await stack.app.services.objects.get(row.storageKey!);
      expect(object?.contentType).toBe(mime);
      expect((await bytesOf(object!.body)).equals(fixture(name))).toBe(true);
    }
    expect(stack.app.services.objects.kind).toBe(backend === 'fs' ? 'fs' : 's3');
  });

  it('a KIE task with uploaded files hands KIE links that serve exactly those bytes', async () => {
    const created = await stack.upload(
      CREATE_AVATAR,
      { input: { provider: 'KIE', image: { file: null }, audio: { file: null }, prompt: 'a calm newsreader' } },
      {
        'input.image.file': new Blob([fixture('portrait-400x500.webp')], { type: 'image/webp' }),
        'input.audio.file': new Blob([fixture('speech-3s.mp3')], { type: 'audio/mpeg' }),
      },
    );
    const task = created.data!.createAvatarVideo;
    expect(task.__typename, JSON.stringify(created)).toBe('Task');
    expect((await stack.waitForFinal(task.id, 'status')).status).toBe('SUCCEEDED');

    // Presigned S3 URLs only when the store has an endpoint outsiders reach; else the signed /media route.
    const origin =
      backend === 's3 with a public endpoint' ? `${s3!.endpoint}/${s3!.bucket}/inputs/` : `${stack.url}/media/`;
    const fetched = stack.sim.kie.inputFetches().filter((f) => f.url.startsWith(origin));
    expect(fetched.map((f) => [f.status, f.bytes, f.contentType])).toEqual([
      [200, fixture('portrait-400x500.webp').length, 'image/webp'],
      [200, fixture('speech-3s.mp3').length, 'audio/mpeg'],
    ]);
    expect(stack.sim.kie.inputFetches()).toHaveLength(2);
  });

  it('/media streams the stored bytes with Range support: 206 with Content-Range, 416 past the end', async () => {
    const created = await stack.gql(CREATE_AVATAR, {
      input: { image: b64('portrait-512x640.png'), audio: b64('speech-3s.mp3') },
    });
    const taskId = created.data!.createAvatarVideo.id;
    const image = (await mediaOf(stack, taskId)).get('image/png')!;
    const whole = fixture('portrait-512x640.png');
    const link = `${stack.url}${stack.app.services.media.signedPath(image.id)}`;

    const full = await fetch(link);
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-length')).toBe(String(whole.length));
    expect(Buffer.from(await full.arrayBuffer()).equals(whole)).toBe(true);

    const first = await fetch(link, { headers: { range: 'bytes=0-99' } });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-99/${whole.length}`);
    expect(first.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await first.arrayBuffer()).equals(whole.subarray(0, 100))).toBe(true);

    const middle = await fetch(link, { headers: { range: 'bytes=1000-' } });
    expect(middle.status).toBe(206);
    expect(middle.headers.get('content-range')).toBe(`bytes 1000-${whole.length - 1}/${whole.length}`);
    expect(Buffer.from(await middle.arrayBuffer()).equals(whole.subarray(1000))).toBe(true);

    const suffix = await fetch(link, { headers: { range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(whole.subarray(whole.length - 10))).toBe(true);

    const past = await fetch(link, { headers: { range: `bytes=${whole.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${whole.length}`);

    const head = await fetch(link, { method: 'HEAD', headers: { range: 'bytes=0-9' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-length')).toBe('10');
    await stack.waitForAllFinal();
  });
});

describe('the file store of an in-memory database', () => {
  it('lives in a private temporary directory removed when the API stops', async () => {
    const stack = await startStack();
    const root = (stack.app.services.objects as FsStore).root;
    expect(existsSync(root)).toBe(true);
    await stack.stop();
    expect(existsSync(root)).toBe(false);
  });
});
