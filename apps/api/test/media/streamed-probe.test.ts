import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_PREFIX_BYTES, probeMedia } from '../../src/media/probe.js';
import { probeStreamed, StreamedUpload } from '../../src/media/streamed-upload.js';
import { FsStore } from '../../src/storage/fs-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { fixture } from '../support/stack.js';

const MiB = 1024 * 1024;

/** `clip` with a `free` box of `padding` bytes after its first box (ftyp): its moov moves past the prefix. */
function padAfterFtyp(clip: Buffer, padding: number): Buffer {
  const ftypSize = clip.readUInt32BE(0);
  const free = Buffer.alloc(padding);
  free.writeUInt32BE(padding, 0);
  free.write('free', 4, 'latin1');
  return Buffer.concat([clip.subarray(0, ftypSize), free, clip.subarray(ftypSize)]);
}

/** A store that counts the bytes read from it. */
function counting(store: ObjectStore): { store: ObjectStore; read: () => number } {
  let read = 0;
  const wrapped = Object.create(store) as ObjectStore;
  wrapped.get = async (key, range) => {
    const got = await store.get(key, range);
    got?.body.on('data', (chunk: Buffer) => {
      read += chunk.length;
    });
    return got;
  };
  return { store: wrapped, read: () => read };
}

describe('media facts of a streamed upload, read from the store', () => {
  let fs: FsStore;
  beforeAll(async () => {
    fs = await FsStore.open('memory://');
  });
  afterAll(async () => {
    await fs?.close();
  });

  async function streamed(key: string, bytes: Buffer, store: ObjectStore): Promise<StreamedUpload> {
    const put = await fs.put(key, bytes, { contentType: 'video/mp4' });
    return new StreamedUpload(
      {
        id: key,
        storageKey: key,
        size: put.sizeBytes,
        sha256: put.sha256,
        mime: 'video/mp4',
        name: 'clip.mp4',
        type: 'video/mp4',
        prefix: bytes.subarray(0, PROBE_PREFIX_BYTES),
        tooLarge: false,
      },
      store,
    );
  }

  it('a video whose moov is at its end: duration and frame size from its box headers and moov, not its media data', async () => {
    const clip = fixture('clip-4s-moov-at-end.mp4');
    const whole = await probeMedia(clip);
    expect(whole.durationSeconds).toBeGreaterThan(3);
    const big = padAfterFtyp(clip, 8 * MiB);
    // The prefix alone does not know the duration: the whole file would be needed.
    expect((await probeMedia(big.subarray(0, PROBE_PREFIX_BYTES), { totalSize: big.length })).durationSeconds).toBe(
      undefined,
    );
    const { store, read } = counting(fs);
    const probe = await probeStreamed(await streamed('inputs/t/moov-at-end', big, store), 100 * MiB);
    expect(probe).toMatchObject({
      kind: 'video',
      mime: 'video/mp4',
      sizeBytes: big.length,
      durationSeconds: whole.durationSeconds,
      width: whole.width,
      height: whole.height,
    });
    expect(probe.intact).not.toBe(false);
    expect(read()).toBeLessThan(64 * 1024);
  });

  it('a file over the limit is judged by its first bytes and size alone, and a small one whole', async () => {
    const clip = fixture('clip-4s.mp4');
    const { store, read } = counting(fs);
    const over = await probeStreamed(await streamed('inputs/t/over', padAfterFtyp(clip, 2 * MiB), store), MiB);
    expect(over).toMatchObject({ kind: 'video', sizeBytes: clip.length + 2 * MiB });
    expect(read()).toBe(0);
    const small = await probeStreamed(await streamed('inputs/t/small', clip, store), MiB);
    expect(small).toEqual(await probeMedia(clip));
  });
});
