import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/crypto.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { ObjectTooLargeError, RangeNotSatisfiableError } from '../../src/storage/metering.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { startS3, type TestS3 } from '../support/s3.js';

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of `size` random bytes in 64 KiB chunks, and those bytes. */
function randomStream(size: number): { stream: Readable; bytes: Buffer } {
  const bytes = randomBytes(size);
  const chunks: Buffer[] = [];
  for (let i = 0; i < size; i += 64 * 1024) chunks.push(bytes.subarray(i, i + 64 * 1024));
  return { stream: Readable.from(chunks), bytes };
}

let s3: TestS3;
const stores: Record<'fs' | 's3', ObjectStore> = {} as never;

beforeAll(async () => {
  s3 = await startS3();
  stores.fs = await FsStore.open('memory://');
  stores.s3 = new S3Store(s3.settings);
});
afterAll(async () => {
  await stores.fs?.close();
  await stores.s3?.close();
  await s3?.stop();
});

describe.each(['fs', 's3'] as const)('the %s object store', (kind) => {
  const store = () => stores[kind];

  it('puts a stream and reads it back whole, with its size, type and SHA-256', async () => {
    const { stream, bytes } = randomStream(300 * 1024 + 7);
    const stored = await store().put('inputs/t1/a', stream, { contentType: 'image/png' });
    expect(stored).toEqual({
      key: 'inputs/t1/a',
      sizeBytes: bytes.length,
      sha256: sha256Hex(bytes),
      contentType: 'image/png',
    });
    expect(await store().head('inputs/t1/a')).toEqual({ sizeBytes: bytes.length, contentType: 'image/png' });
    const got = await store().get('inputs/t1/a');
    expect(got?.sizeBytes).toBe(bytes.length);
    expect(got?.contentType).toBe('image/png');
    expect(got?.range).toBeUndefined();
    expect((await bytesOf(got!.body)).equals(bytes)).toBe(true);
  });

  it('serves inclusive byte ranges, clamps an end past the object and refuses a start past it', async () => {
    const bytes = Buffer.from('0123456789');
    await store().put('inputs/t1/range', bytes, { contentType: 'text/plain' });
    const middle = await store().get('inputs/t1/range', { start: 2, end: 5 });
    expect(middle?.range).toEqual({ start: 2, end: 5 });
    expect(middle?.sizeBytes).toBe(10);
    expect(await text(middle!.body)).toBe('2345');
    const open = await store().get('inputs/t1/range', { start: 7 });
    expect(open?.range).toEqual({ start: 7, end: 9 });
    expect(await text(open!.body)).toBe('789');
    const clamped = await store().get('inputs/t1/range', { start: 8, end: 100 });
    expect(clamped?.range).toEqual({ start: 8, end: 9 });
    expect(await text(clamped!.body)).toBe('89');
    await expect(store().get('inputs/t1/range', { start: 10 })).rejects.toThrow(RangeNotSatisfiableError);
  });

  it('answers null for a missing object, and deleting one is not an error', async () => {
    expect(await store().get('inputs/t1/missing')).toBeNull();
    expect(await store().head('inputs/t1/missing')).toBeNull();
    await store().delete(['inputs/t1/missing']);
  });

  it('replaces an object whole and deletes by key', async () => {
    await store().put('inputs/t1/b', Buffer.from('first version'), { contentType: 'text/plain' });
    await store().put('inputs/t1/b', Buffer.from('second'), { contentType: 'audio/mpeg' });
    const got = await store().get('inputs/t1/b');
    expect(got?.contentType).toBe('audio/mpeg');
    expect(await text(got!.body)).toBe('second');
    await store().delete(['inputs/t1/b']);
    expect(await store().head('inputs/t1/b')).toBeNull();
  });

  it('deletes every object under a prefix and nothing else', async () => {
    for (const key of ['outputs/t2/task1/video.mp4', 'outputs/t2/task1/audio.mp3', 'outputs/t2/task10/video.mp4']) {
      await store().put(key, Buffer.from(key), { contentType: 'video/mp4' });
    }
    expect(await store().deletePrefix('outputs/t2/task1/')).toBe(2);
    expect(await store().head('outputs/t2/task1/video.mp4')).toBeNull();
    expect(await store().head('outputs/t2/task1/audio.mp3')).toBeNull();
    expect(await store().head('outputs/t2/task10/video.mp4')).not.toBeNull();
    expect(await store().deletePrefix('outputs/t2/nothing/')).toBe(0);
  });

  it('lists the objects under a prefix with their size and write time, and nothing else', async () => {
    const before = Date.now() - 2000; // S3 times have whole seconds
    for (const key of ['listed/t3/a', 'listed/t3/sub/b', 'listed/t30/c', 'listedx/d']) {
      await store().put(key, Buffer.from(key), { contentType: 'text/plain' });
    }
    const listed = async (prefix: string) => {
      const out: { key: string; sizeBytes: number; modifiedAt: Date }[] = [];
      for await (const page of store().list(prefix)) out.push(...page);
      return out.sort((a, b) => a.key.localeCompare(b.key));
    };
    const under = await listed('listed/t3/');
    expect(under.map((o) => [o.key, o.sizeBytes])).toEqual([
      ['listed/t3/a', 'listed/t3/a'.length],
      ['listed/t3/sub/b', 'listed/t3/sub/b'.length],
    ]);
    for (const o of under) {
      expect(o.modifiedAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(o.modifiedAt.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
    }
    expect((await listed('listed/')).map((o) => o.key)).toEqual(['listed/t3/a', 'listed/t3/sub/b', 'listed/t30/c']);
    expect(await listed('listed/none/')).toEqual([]);
    await store().deletePrefix('listed');
  });

  it('refuses a write past maxBytes and keeps nothing of it, the earlier object included', async () => {
    await store().put('inputs/t1/capped', Buffer.from('the earlier object'), { contentType: 'text/plain' });
    const { stream } = randomStream(200 * 1024);
    await expect(
      store().put('inputs/t1/capped', stream, { contentType: 'text/plain', maxBytes: 100 * 1024 }),
    ).rejects.toThrow(ObjectTooLargeError);
    // The refused write is not visible: the earlier object is still there, whole.
    expect(await text((await store().get('inputs/t1/capped'))!.body)).toBe('the earlier object');
    await expect(
      store().put('inputs/t1/capped-new', randomStream(200 * 1024).stream, { contentType: 'x/y', maxBytes: 1024 }),
    ).rejects.toThrow(ObjectTooLargeError);
    expect(await store().head('inputs/t1/capped-new')).toBeNull();
  });

  it('never shows a partial object: a reader during a slow write sees nothing, then the whole', async () => {
    let push: (chunk: Buffer | null) => void = () => {};
    const slow = new Readable({ read() {} });
    push = (chunk) => slow.push(chunk);
    const writing = store().put('inputs/t1/slow', slow, { contentType: 'text/plain' });
    push(Buffer.from('half '));
    // The first half has been handed over; the object must not exist yet.
    await new Promise((resolve) => setImmediate(resolve));
    expect(await store().head('inputs/t1/slow')).toBeNull();
    push(Buffer.from('and the rest'));
    push(null);
    await writing;
    expect(await text((await store().get('inputs/t1/slow'))!.body)).toBe('half and the rest');
  });

  it('refuses keys that could leave the store', async () => {
    for (const key of ['../etc/passwd', '/abs', 'a//b', 'a/../b', '']) {
      await expect(store().put(key, Buffer.from('x'), { contentType: 'text/plain' }), key).rejects.toThrow(
        /invalid object key/,
      );
    }
  });
});

describe('the fs store', () => {
  it('leaves no temporary file behind after a refused write', async () => {
    const fs = stores.fs as FsStore;
    await expect(
      fs.put('inputs/t3/x', randomStream(10_000).stream, { contentType: 'x/y', maxBytes: 10 }),
    ).rejects.toThrow();
    expect(await readdir(join(fs.root, '.tmp'))).toEqual([]);
  });
});

describe('the S3 store', () => {
  it('gives no presigned URL unless a public endpoint is configured, and a working one when it is', async () => {
    expect(await stores.s3.presignGet('inputs/t1/a', 60)).toBeNull();
    const publicStore = new S3Store({ ...s3.settings, presign: { endpoint: s3.endpoint } });
    try {
      await publicStore.put('inputs/t4/p', Buffer.from('presigned bytes'), { contentType: 'text/plain' });
      const url = await publicStore.presignGet('inputs/t4/p', 60);
      expect(url).toMatch(new RegExp(`^${s3.endpoint}/${s3.bucket}/inputs/t4/p\\?.*X-Amz-Signature=`));
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('presigned bytes');
    } finally {
      await publicStore.close();
    }
  });

  it('streams a body larger than one multipart part', async () => {
    const { stream, bytes } = randomStream(6 * 1024 * 1024 + 123);
    const stored = await stores.s3.put('inputs/t5/big', stream, { contentType: 'video/mp4' });
    expect(stored.sha256).toBe(sha256Hex(bytes));
    expect((await bytesOf((await stores.s3.get('inputs/t5/big'))!.body)).equals(bytes)).toBe(true);
  });
});
