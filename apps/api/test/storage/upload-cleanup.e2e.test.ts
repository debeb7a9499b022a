import { createHash } from 'node:crypto';
import { mediaObjects, tasks as tasksTable } from '@clipwire/schema/tables';
import { count, eq } from 'drizzle-orm';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_UPLOAD_BYTES } from '../../src/http/multipart.js';
import type { FsStore } from '../../src/storage/fs-store.js';
import { uuidOf } from '../support/ids.js';
import { startS3, type TestS3 } from '../support/s3.js';
import { CREATE_AVATAR, CREATE_SOUND, eventually, fixture, startStack, type Stack } from '../support/stack.js';

const MB = 1024 * 1024;
const BOUNDARY = 'clipwire-cleanup-boundary';

/** A multipart request for `query` whose one file (at `path`) is `head` then `size - head.length` zeros, streamed. */
async function* multipart(query: string, input: object, path: string, head: Buffer, size: number, stopAfter?: number) {
  const field = (name: string, value: string) =>
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  yield Buffer.from(
    field('operations', JSON.stringify({ query, variables: { input } })) +
      field('map', JSON.stringify({ 0: [`variables.${path}`] })) +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="f"\r\n\r\n`,
  );
  yield head;
  // The rest as one `free` box (valid in an MP4; past a PNG's end, only its size matters here).
  const free = Buffer.alloc(8);
  free.writeUInt32BE(size - head.length, 0);
  free.write('free', 4, 'latin1');
  yield free;
  const zeros = Buffer.alloc(MB);
  let sent = head.length + free.length;
  while (sent < size) {
    const n = Math.min(MB, size - sent);
    yield zeros.subarray(0, n);
    sent += n;
    if (stopAfter !== undefined && sent > stopAfter) throw new Error('the client gives up');
  }
  yield Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
}

describe.each(['fs', 's3'] as const)(
  'uploads on the %s store leave nothing behind when refused or abandoned',
  (backend) => {
    let stack: Stack;
    let s3: TestS3 | undefined;
    beforeAll(async () => {
      if (backend === 's3') s3 = await startS3();
      stack = await startStack({ env: s3?.env ?? {} });
    });
    afterAll(async () => {
      await stack?.stop();
      await s3?.stop();
    });

    async function inputs(): Promise<string[]> {
      const keys: string[] = [];
      for await (const page of stack.app.services.objects.list('inputs/')) keys.push(...page.map((o) => o.key));
      return keys.sort();
    }
    /** The file store's temporary files (writes in progress); S3 shows none until a write completes. */
    async function tempFiles(): Promise<string[]> {
      const { objects } = stack.app.services;
      return objects.kind === 'fs' ? readdir(join((objects as FsStore).root, '.tmp')) : [];
    }
    async function taskCount(): Promise<number> {
      const [row] = await stack.app.db.db.select({ n: count() }).from(tasksTable);
      return row!.n;
    }
    async function send(body: AsyncIterable<Buffer>) {
      const res = await request(`${stack.url}/graphql`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.apiKey}`,
          'graphql-preflight': '1',
          'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        },
        body: Readable.from(body),
      });
      return (await res.body.json()) as { data?: any; errors?: any[] };
    }

    it('a file over the upload limit is read no further into the store and refused naming its field', async () => {
      const [keys, tasks] = [await inputs(), await taskCount()];
      const res = await send(
        multipart(
          CREATE_SOUND,
          { video: { file: null } },
          'input.video.file',
          fixture('clip-4s.mp4'),
          MAX_UPLOAD_BYTES + MB,
        ),
      );
      const refused = res.data?.createVideoSound;
      expect(refused?.__typename, JSON.stringify(res)).toBe('ValidationError');
      expect(refused.issues[0]).toMatchObject({
        path: ['input', 'video'],
        message: expect.stringMatching(/at most 100 MB/),
      });
      expect(await inputs()).toEqual(keys);
      expect(await taskCount()).toBe(tasks);
    }, 60_000);

    it('a file stored whole, then refused by its provider’s own limit, is deleted', async () => {
      const [keys, tasks] = [await inputs(), await taskCount()];
      const audio = fixture('speech-3s.mp3').toString('base64');
      const input = { image: { file: null }, audio: { base64: audio } };
      // Kling takes images up to 10 MB; 12 MB is under the upload limit, so it is streamed whole first.
      const res = await send(
        multipart(CREATE_AVATAR, input, 'input.image.file', fixture('portrait-512x640.png'), 12 * MB),
      );
      const refused = res.data?.createAvatarVideo;
      expect(refused?.__typename, JSON.stringify(res)).toBe('ValidationError');
      expect(refused.issues[0]).toMatchObject({
        path: ['input', 'image'],
        message: expect.stringMatching(/at most 10 MB/),
      });
      // It was in the store; it is deleted once the operation has answered.
      await eventually(async () => (await inputs()).join() === keys.join(), 10_000, 'the refused upload to be deleted');
      expect(await taskCount()).toBe(tasks);
    }, 60_000);

    it('an upload the client abandons halfway leaves no object', async () => {
      const [keys, tasks] = [await inputs(), await taskCount()];
      const body = multipart(
        CREATE_SOUND,
        { video: { file: null } },
        'input.video.file',
        fixture('clip-4s.mp4'),
        40 * MB,
        12 * MB,
      );
      await expect(send(body)).rejects.toThrow();
      // Give the server time to notice; then nothing of it may be (or become) visible.
      await eventually(
        async () => (await inputs()).join() === keys.join() && (await tempFiles()).length === 0,
        10_000,
        'no stored input (or temporary file) from the abandoned upload',
      );
      expect(await taskCount()).toBe(tasks);
      // An upload that completes still works afterwards (12 MB: several parts of an S3 multipart upload),
      // stored with the size and SHA-256 of exactly the bytes sent.
      const completing = multipart(
        CREATE_SOUND,
        { video: { file: null } },
        'input.video.file',
        fixture('clip-4s.mp4'),
        12 * MB,
      );
      const chunks: Buffer[] = [];
      const ok = await send(
        (async function* () {
          for await (const chunk of completing) {
            chunks.push(chunk);
            yield chunk;
          }
        })(),
      );
      expect(ok.data?.createVideoSound?.__typename, JSON.stringify(ok)).toBe('Task');
      expect((await inputs()).length).toBe(keys.length + 1);
      // The last chunk is the closing boundary, not the file's.
      const fileBytes = Buffer.concat(chunks.slice(1, -1));
      expect(fileBytes.length).toBe(12 * MB);
      const [row] = await stack.app.db.db
        .select()
        .from(mediaObjects)
        .where(eq(mediaObjects.taskId, uuidOf(ok.data!.createVideoSound.id)));
      expect(row).toMatchObject({ sizeBytes: 12 * MB, sha256: createHash('sha256').update(fileBytes).digest('hex') });
      const head = await stack.app.services.objects.head(row!.storageKey!);
      expect(head).toEqual({ sizeBytes: 12 * MB, contentType: 'video/mp4' });
    }, 60_000);
  },
);
