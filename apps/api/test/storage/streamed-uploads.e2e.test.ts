import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startSimulator, type Simulator } from '@clipwire/providers/simulator';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_DIGITAL_HUMAN_API_KEY, SANDBOX_KIE_API_KEY, SANDBOX_KLING_API_KEY } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { childApiEnv, freePort, MainProcess } from '../support/main-process.js';
import { CREATE_SOUND, eventually, fixture } from '../support/stack.js';

/**
 * Uploads stream into the object store (http/multipart.ts): the compiled server runs as a child
 * process, so that its memory is its own — its peak resident set (VmHWM, from /proc) is read before
 * and after a large upload. Buffering the upload (as yoga's parser did) grows it by the file's size.
 */

const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(MiB);

/** A valid MP4 of `size` bytes: a real 4 s clip followed by a `free` box of zeros, as chunks. */
function paddedVideo(size: number): { chunks: () => AsyncGenerator<Buffer>; sha256: string } {
  const clip = fixture('clip-4s.mp4');
  const freeSize = size - clip.length;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(freeSize, 0);
  header.write('free', 4, 'latin1');
  async function* chunks(): AsyncGenerator<Buffer> {
    yield clip;
    yield header;
    let left = freeSize - 8;
    while (left > 0) {
      const n = Math.min(left, MiB);
      yield n === MiB ? CHUNK : CHUNK.subarray(0, n);
      left -= n;
    }
  }
  const hash = createHash('sha256').update(clip).update(header);
  for (let left = freeSize - 8; left > 0; left -= MiB) hash.update(CHUNK.subarray(0, Math.min(left, MiB)));
  return { chunks, sha256: hash.digest('hex') };
}

const BOUNDARY = 'clipwire-test-boundary-7MA4YWxkTrZu0gW';

/** A GraphQL multipart request (createVideoSound with `input.video.file`) whose file is `chunks`, streamed. */
async function* multipart(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const operations = JSON.stringify({ query: CREATE_SOUND, variables: { input: { video: { file: null } } } });
  const map = JSON.stringify({ 0: ['variables.input.video.file'] });
  const field = (name: string, value: string) =>
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  yield Buffer.from(field('operations', operations) + field('map', map));
  yield Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
  );
  yield* chunks;
  yield Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
}

async function upload(url: string, apiKey: string, body: AsyncIterable<Buffer>) {
  const res = await request(`${url}/graphql`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'graphql-preflight': '1',
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
    },
    body: Readable.from(body),
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  return { status: res.statusCode, ...((await res.body.json()) as { data?: any; errors?: any[] }) };
}

/**
 * Starts a fresh peak: writing 5 to clear_refs resets the process's VmHWM to its current resident set
 * (Linux 4.0+). Without it the peak would be the boot's (PGlite's migrations), far above an upload's.
 */
async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** The child's resident set now and at its peak since resetPeak, in bytes (Linux /proc). */
async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Every stored input (key → size) and the store's temporary files. */
async function stored(dataDir: string): Promise<{ inputs: Map<string, number>; temp: string[] }> {
  const root = join(dataDir, 'media');
  const inputs = new Map<string, number>();
  const files = await readdir(join(root, 'inputs'), { recursive: true }).catch(() => [] as string[]);
  for (const file of files) {
    const info = await stat(join(root, 'inputs', file));
    if (info.isFile()) inputs.set(file, info.size);
  }
  return { inputs, temp: await readdir(join(root, '.tmp')).catch(() => []) };
}

describe('uploads stream into the object store (the compiled server, as a child process)', () => {
  let sim: Simulator;
  let child: MainProcess;
  let dataDir: string;
  let database: TestDatabase;
  let apiKey: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'clipwire-streamed-uploads-'));
    database = await createTestDatabase();
    sim = await startSimulator({
      host: '127.0.0.1',
      kling: { apiKey: SANDBOX_KLING_API_KEY },
      kie: { apiKey: SANDBOX_KIE_API_KEY },
      digitalHuman: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY },
    });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    child = new MainProcess(
      'api',
      url,
      childApiEnv(
        { port, dataDir, simUrl: sim.url, databaseUrl: database.url },
        { LOG_LEVEL: 'warn', ARCHIVE_OUTPUTS: 'false' },
      ),
    );
    await child.ready();
    apiKey = (await readFile(join(dataDir, 'sandbox-api-key'), 'utf8')).trim();
  }, 90_000);

  afterAll(async () => {
    if (child?.alive) {
      child.signal('SIGTERM');
      await child.waitExit(15_000).catch(() => child.kill());
    }
    await sim?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Uploads a padded video of `size` bytes; the growth of the server's peak resident set over it. */
  async function uploadMeasured(size: number): Promise<{ growth: number; sha256: string }> {
    const video = paddedVideo(size);
    await resetPeak(child.process.pid!);
    const before = await memory(child.process.pid!);
    const res = await upload(child.url, apiKey, multipart(video.chunks()));
    expect(res.data?.createVideoSound?.__typename, JSON.stringify(res)).toBe('Task');
    const after = await memory(child.process.pid!);
    // The peak since the reset, over the resident set at the reset (VmHWM right after it).
    const growth = after.peak - before.peak;
    console.log(
      `${size / MiB} MiB upload: server RSS before ${(before.peak / MiB).toFixed(1)} MiB, peak during ` +
        `${(after.peak / MiB).toFixed(1)} MiB (growth ${(growth / MiB).toFixed(1)} MiB)`,
    );
    return { growth, sha256: video.sha256 };
  }

  it('a 96 MiB video goes through while the server’s peak memory grows by far less than the file', async () => {
    // Warm up through the same path: code compiled, buffers and heap pages in place. What is left of
    // each chunk once written is garbage V8 collects when enough has piled up: the first uploads raise
    // the resident set by tens of MiB once (a plateau, whatever the size), later ones reuse it.
    // Buffering instead adds the whole file each time (yoga's parser: ~300 MiB for the 96 MiB one).
    await uploadMeasured(2 * MiB);
    await uploadMeasured(24 * MiB);
    const size = 96 * MiB;
    const { growth, sha256 } = await uploadMeasured(size);
    expect(growth).toBeLessThan(size / 3);

    // The stored object is exactly the bytes sent.
    const { inputs, temp } = await stored(dataDir);
    const big = [...inputs].filter(([, bytes]) => bytes > size);
    expect(big).toHaveLength(1);
    const hash = createHash('sha256');
    let header = true;
    for await (const chunk of createReadStream(join(dataDir, 'media', 'inputs', big[0]![0]))) {
      // Each file starts with its content type and a newline (fs-store.ts).
      let bytes = chunk as Buffer;
      if (header) {
        expect(bytes.subarray(0, bytes.indexOf(0x0a)).toString()).toBe('video/mp4');
        bytes = bytes.subarray(bytes.indexOf(0x0a) + 1);
        header = false;
      }
      hash.update(bytes);
    }
    expect(hash.digest('hex')).toBe(sha256);
    expect(temp).toEqual([]);
  }, 180_000);

  it('a video over 100 MB is refused naming input.video, and leaves no object and no task', async () => {
    const before = await stored(dataDir);
    const res = await upload(child.url, apiKey, multipart(paddedVideo(100 * MiB + 1).chunks()));
    const refused = res.data?.createVideoSound;
    expect(refused?.__typename, JSON.stringify(res)).toBe('ValidationError');
    expect(refused.issues).toEqual([
      { path: ['input', 'video'], message: expect.stringMatching(/video must be at most 100 MB/) },
    ]);
    const after = await stored(dataDir);
    expect([...after.inputs.keys()]).toEqual([...before.inputs.keys()]);
    expect(after.temp).toEqual([]);
  }, 180_000);

  it('an upload the client abandons halfway leaves nothing behind', async () => {
    const before = await stored(dataDir);
    async function* halfThenGone(): AsyncGenerator<Buffer> {
      let sent = 0;
      for await (const chunk of paddedVideo(50 * MiB).chunks()) {
        yield chunk;
        sent += chunk.length;
        if (sent > 20 * MiB) throw new Error('the client gives up');
      }
    }
    await expect(upload(child.url, apiKey, multipart(halfThenGone()))).rejects.toThrow();
    await eventually(
      async () => {
        const now = await stored(dataDir);
        return now.temp.length === 0 && now.inputs.size === before.inputs.size;
      },
      15_000,
      'the abandoned upload’s bytes to be deleted',
    );
    const after = await stored(dataDir);
    expect([...after.inputs.keys()]).toEqual([...before.inputs.keys()]);
    // The server is still serving.
    const again = await upload(child.url, apiKey, multipart(paddedVideo(MiB).chunks()));
    expect(again.data?.createVideoSound?.__typename, JSON.stringify(again)).toBe('Task');
  }, 120_000);
});
