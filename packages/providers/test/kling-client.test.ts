import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBuffer } from 'music-metadata';
import { request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KlingClient, ProviderError, createHttpDispatcher, isTerminal, type KlingTask } from '../src/index.js';
import { fixturesDir, startSimulator, type Simulator } from '../src/simulator/index.js';
import { mockedKling, rejectionOf, startMediaServer, waitFor, type MediaServer } from './helpers.js';

let sim: Simulator;
let dispatcher: Dispatcher;
let client: KlingClient;
let media: MediaServer;
/** URL inputs on a loopback media server: the simulator downloads them. */
let imageUrl: string;
let soundUrl: string;
let run = 0;
const extId = (label: string) => `${label}-${Date.now()}-${++run}`;

beforeAll(async () => {
  media = await startMediaServer();
  imageUrl = media.portraitUrl;
  soundUrl = media.speechUrl;
  sim = await startSimulator({ kling: { timing: { processingAfterMs: 100, succeedAfterMs: 250 } } });
  dispatcher = createHttpDispatcher();
  client = new KlingClient({ baseUrl: sim.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher, timeoutMs: 2000 });
});

afterAll(async () => {
  await sim.stop();
  await media.close();
  await dispatcher.close();
});

describe('create, query and result', () => {
  it('creates a task with a static key; it starts as submitted (QUEUED)', async () => {
    const externalTaskId = extId('create');
    const task = await client.createAvatarVideo({
      image: imageUrl,
      soundFile: soundUrl,
      prompt: 'smile',
      mode: 'std',
      externalTaskId,
    });
    expect(task.rawStatus).toBe('submitted');
    expect(task.status).toBe('QUEUED');
    expect(task.taskId).toMatch(/^\d+$/);
    expect(task.externalTaskId).toBe(externalTaskId);
    expect(task.createdAt).toBeInstanceOf(Date);
    expect(task.videos).toEqual([]);
  });

  it('accepts a raw base64 image (a real PNG) and an audio_id', async () => {
    const png = await readFile(join(fixturesDir, 'portrait-512x640.png'));
    const task = await client.createAvatarVideo({ image: png.toString('base64'), audioId: 'tts-audio-1' });
    expect(task.status).toBe('QUEUED');
  });

  it('get by taskId and by externalTaskId return the same task', async () => {
    const externalTaskId = extId('same/task with spaces');
    const created = await client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl, externalTaskId });
    const byId = await client.getAvatarVideo({ taskId: created.taskId });
    const byExternal = await client.getAvatarVideo({ externalTaskId });
    expect(byId.taskId).toBe(created.taskId);
    expect(byExternal).toEqual(byId);
  });

  it('progresses to SUCCEEDED with a video whose URL serves a playable mp4', async () => {
    const created = await client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl, watermark: true });
    const seen = new Set<string>();
    const done = await waitFor(
      async () => {
        const t = await client.getAvatarVideo({ taskId: created.taskId });
        seen.add(t.status);
        return isTerminal(t.status) ? t : undefined;
      },
      3000,
      15,
    );
    expect(seen.has('RUNNING')).toBe(true);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.finalUnitDeduction).toBe('5');
    expect(done.updatedAt!.getTime()).toBeGreaterThan(done.createdAt!.getTime());
    expect(done.videos).toHaveLength(1);
    const video = done.videos[0]!;
    // As long as its sound (speech-3s.mp3: 3.056 s).
    expect(video.durationSeconds).toBe(3.056);
    expect(video.url.startsWith(sim.url)).toBe(true);
    expect(video.watermarkUrl).toMatch(/^http:\/\/.+\.mp4$/);

    const res = await request(video.url, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('video/mp4');
    const bytes = Buffer.from(await res.body.arrayBuffer());
    expect(Number(res.headers['content-length'])).toBe(bytes.length);
    const meta = await parseBuffer(bytes, { mimeType: 'video/mp4' });
    expect(meta.format.container).toMatch(/isom|mp4/);
    expect(meta.format.duration).toBeGreaterThan(2);
    expect(meta.format.hasVideo).toBe(true);
    expect(meta.format.hasAudio).toBe(true);
  });

  it('a prompt containing failPromptContains ends FAILED with a status message', async () => {
    const failing = await startSimulator({
      kling: { timing: { processingAfterMs: 20, succeedAfterMs: 60 }, failPromptContains: '#fail' },
    });
    try {
      const c = new KlingClient({ baseUrl: failing.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher });
      const created = await c.createAvatarVideo({ image: imageUrl, soundFile: soundUrl, prompt: 'please #fail' });
      const done = await waitFor(async () => {
        const t = await c.getAvatarVideo({ taskId: created.taskId });
        return isTerminal(t.status) ? t : undefined;
      });
      expect(done.status).toBe('FAILED');
      expect(done.rawStatus).toBe('failed');
      expect(done.statusMessage).toMatch(/risk control/);
      expect(done.videos).toEqual([]);
    } finally {
      await failing.stop();
    }
  });

  it('an unknown task id is a not_found ProviderError (1203)', async () => {
    const err = await rejectionOf(client.getAvatarVideo({ taskId: 'no-such-task' }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'not_found', code: '1203', httpStatus: 404, retryable: false });
  });
});

describe('avatar input downloads (image / sound_file URLs)', () => {
  const fetchesOf = (...urls: string[]) => sim.kling.inputFetches().filter((f) => urls.includes(f.url));
  const untilDone = (taskId: string) =>
    waitFor(async () => {
      const t = await client.getAvatarVideo({ taskId });
      return isTerminal(t.status) ? t : undefined;
    });

  it('downloads image and sound_file when they are URLs (status, bytes, content type recorded)', async () => {
    const image = `${imageUrl}?t=av-ok`;
    const sound = `${soundUrl}?t=av-ok`;
    const created = await client.createAvatarVideo({ image, soundFile: sound });
    await expect(untilDone(created.taskId)).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect(fetchesOf(image, sound)).toEqual([
      { url: image, status: 200, bytes: media.size('portrait.png'), contentType: 'image/png' },
      { url: sound, status: 200, bytes: media.size('speech.mp3'), contentType: 'audio/mpeg' },
    ]);
  });

  it('raw base64 image and sound_file are not downloaded', async () => {
    const png = await readFile(join(fixturesDir, 'portrait-512x640.png'));
    const mp3 = await readFile(join(fixturesDir, 'speech-3s.mp3'));
    const before = sim.kling.inputFetches().length;
    const created = await client.createAvatarVideo({
      image: png.toString('base64'),
      soundFile: mp3.toString('base64'),
    });
    await expect(untilDone(created.taskId)).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect(sim.kling.inputFetches()).toHaveLength(before);
  });

  it.each([
    ['image', 404],
    ['sound_file', 403],
  ] as const)(
    '%s answering HTTP %i ends the task failed with task_status_msg naming the field',
    async (field, status) => {
      const bad = `${media.statusUrl(status)}?t=av-${field}`;
      const created = await client.createAvatarVideo(
        field === 'image' ? { image: bad, soundFile: soundUrl } : { image: imageUrl, soundFile: bad },
      );
      const done = await untilDone(created.taskId);
      expect(done).toMatchObject({
        status: 'FAILED',
        rawStatus: 'failed',
        statusMessage: `failed to download ${field} (HTTP ${status})`,
        videos: [],
      });
      expect(fetchesOf(bad)).toEqual([{ url: bad, status, bytes: expect.any(Number), contentType: 'text/plain' }]);
    },
  );

  it('with fetchInputs: false nothing is downloaded', async () => {
    const off = await startSimulator({
      kling: { fetchInputs: false, timing: { processingAfterMs: 5, succeedAfterMs: 20 } },
    });
    try {
      const c = new KlingClient({ baseUrl: off.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher });
      const created = await c.createAvatarVideo({ image: media.statusUrl(404), soundFile: media.statusUrl(404) });
      const done = await waitFor(async () => {
        const t = await c.getAvatarVideo({ taskId: created.taskId });
        return isTerminal(t.status) ? t : undefined;
      });
      expect(done.status).toBe('SUCCEEDED');
      expect(off.kling.inputFetches()).toEqual([]);
    } finally {
      await off.stop();
    }
  });
});

describe('list', () => {
  it('pages through all tasks newest first with pageSize 2', async () => {
    const pager = await startSimulator({ kling: { timing: { processingAfterMs: 100, succeedAfterMs: 250 } } });
    try {
      const c = new KlingClient({ baseUrl: pager.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher });
      const created: KlingTask[] = [];
      for (let i = 0; i < 5; i++)
        created.push(await c.createAvatarVideo({ image: imageUrl, soundFile: soundUrl, externalTaskId: `page-${i}` }));

      const pages: string[][] = [];
      for (let pageNum = 1; pageNum <= 4; pageNum++) {
        pages.push((await c.listAvatarVideos({ pageNum, pageSize: 2 })).map((t) => t.externalTaskId ?? ''));
      }
      expect(pages).toEqual([['page-4', 'page-3'], ['page-2', 'page-1'], ['page-0'], []]);
      const defaults = await c.listAvatarVideos();
      expect(defaults.map((t) => t.taskId)).toEqual(created.map((t) => t.taskId).reverse());
    } finally {
      await pager.stop();
    }
  });

  it.each([
    [{ pageSize: 0 }, 'pageSize'],
    [{ pageSize: 501 }, 'pageSize'],
    [{ pageNum: 0 }, 'pageNum'],
    [{ pageNum: 1001 }, 'pageNum'],
    [{ pageNum: 1.5 }, 'pageNum'],
  ])('rejects %o client-side naming %s, without an HTTP request', async (args, field) => {
    const before = sim.kling.requestCount();
    const err = await rejectionOf(client.listAvatarVideos(args));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'validation', retryable: false });
    expect((err as Error).message).toContain(field);
    expect(sim.kling.requestCount()).toBe(before);
  });
});

describe('validation', () => {
  it.each([
    ['missing image', () => ({ image: '', soundFile: soundUrl }), '1200', 'image'],
    [
      'a data: prefixed image',
      () => ({ image: 'data:image/png;base64,iVBORw0KGgo=', soundFile: soundUrl }),
      '1201',
      'image',
    ],
    [
      'both audio_id and sound_file',
      () => ({ image: imageUrl, soundFile: soundUrl, audioId: 'a1' }),
      '1201',
      'audio_id',
    ],
    ['neither audio_id nor sound_file', () => ({ image: imageUrl }), '1201', 'sound_file'],
    [
      'a prompt over 2500 chars',
      () => ({ image: imageUrl, soundFile: soundUrl, prompt: 'x'.repeat(2501) }),
      '1201',
      'prompt',
    ],
    ['an unknown mode', () => ({ image: imageUrl, soundFile: soundUrl, mode: 'ultra' }), '1201', 'mode'],
  ])('%s is a validation error (not retryable) naming the field', async (_name, req, code, field) => {
    // Casts: these requests are deliberately outside the typed contract. Thunks: the URLs exist once the media server runs.
    const err = await rejectionOf(client.createAvatarVideo(req() as never));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'validation', retryable: false, code, httpStatus: 400, provider: 'kling' });
    expect((err as ProviderError).message).toContain(field);
    expect((err as ProviderError).requestId).toMatch(/.+/);
  });

  it('a duplicate external_task_id is rejected and creates no second task', async () => {
    const externalTaskId = extId('dup');
    const first = await client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl, externalTaskId });
    const before = sim.kling.createCount();
    const err = await rejectionOf(client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl, externalTaskId }));
    expect(err).toMatchObject({ kind: 'validation', code: '1201', retryable: false });
    expect((err as Error).message).toContain('external_task_id');
    expect(sim.kling.createCount()).toBe(before);
    expect(sim.kling.createsFor(externalTaskId)).toBe(2);
    expect((await client.getAvatarVideo({ externalTaskId })).taskId).toBe(first.taskId);
  });
});

describe('error classification (by business code)', () => {
  it('429/1102 resource pack exhausted: quota, NOT retryable', async () => {
    sim.kling.setNextCreateError({ httpStatus: 429, code: 1102, message: 'resource pack exhausted' });
    const err = await rejectionOf(client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'quota', retryable: false, code: '1102', httpStatus: 429 });
  });

  it('429/1303 over concurrency: concurrency, retryable, Retry-After seconds parsed', async () => {
    sim.kling.setNextCreateError({
      httpStatus: 429,
      code: 1303,
      message: 'parallel task over resource pack limit',
      retryAfter: '7',
    });
    const err = await rejectionOf(client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl }));
    expect(err).toMatchObject({
      kind: 'concurrency',
      retryable: true,
      code: '1303',
      httpStatus: 429,
      retryAfterMs: 7000,
    });
  });

  it('500/5000 internal error: upstream, retryable, Retry-After HTTP date parsed', async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    sim.kling.setNextCreateError({ httpStatus: 500, code: 5000, message: 'internal error', retryAfter: at });
    const err = (await rejectionOf(
      client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl }),
    )) as ProviderError;
    expect(err).toMatchObject({ kind: 'upstream', retryable: true, code: '5000', httpStatus: 500 });
    expect(err.retryAfterMs).toBeGreaterThan(25_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('the injected error is one-shot: the next create succeeds', async () => {
    sim.kling.setNextCreateError({ httpStatus: 503, code: 5001, message: 'maintenance' });
    await expect(client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl })).rejects.toMatchObject({
      kind: 'upstream',
      retryable: true,
    });
    await expect(client.createAvatarVideo({ image: imageUrl, soundFile: soundUrl })).resolves.toMatchObject({
      status: 'QUEUED',
    });
  });
});

describe('transport failures', () => {
  it('a create whose response is too slow is a retryable timeout, and the task can be found by externalTaskId', async () => {
    const externalTaskId = extId('slow');
    const impatient = new KlingClient({
      baseUrl: sim.url,
      auth: { apiKey: 'sandbox-kling-key' },
      dispatcher,
      timeoutMs: 80,
    });
    sim.kling.setCreateLatencyMs(400);
    try {
      const err = await rejectionOf(
        impatient.createAvatarVideo({ image: imageUrl, soundFile: soundUrl, externalTaskId }),
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ kind: 'timeout', retryable: true });
    } finally {
      sim.kling.setCreateLatencyMs(0);
    }
    const found = await client.getAvatarVideo({ externalTaskId });
    expect(found.externalTaskId).toBe(externalTaskId);
    expect(sim.kling.createsFor(externalTaskId)).toBe(1);
  });

  it('a refused connection is a retryable network error', async () => {
    const gone = await startSimulator();
    const url = gone.url;
    await gone.stop();
    const c = new KlingClient({ baseUrl: url, auth: { apiKey: 'k' }, dispatcher });
    const err = await rejectionOf(c.getAvatarVideo({ taskId: '1' }));
    expect(err).toMatchObject({ kind: 'network', retryable: true, provider: 'kling' });
  });

  describe('responses that are not Kling envelopes (MockAgent)', () => {
    const origin = 'https://kling.mock';
    const m = mockedKling(origin);
    const path = '/v1/videos/avatar/image2video/t1';

    it('an HTML 502 from a gateway is a retryable upstream error', async () => {
      m.mock
        .get(origin)
        .intercept({ path, method: 'GET' })
        .reply(502, '<html>Bad Gateway</html>', { headers: { 'content-type': 'text/html', 'retry-after': '3' } });
      const err = await rejectionOf(m.client.getAvatarVideo({ taskId: 't1' }));
      expect(err).toMatchObject({ kind: 'upstream', retryable: true, httpStatus: 502, retryAfterMs: 3000 });
    });

    it('a 200 that is not JSON is a non-retryable protocol error', async () => {
      m.mock.get(origin).intercept({ path, method: 'GET' }).reply(200, 'hello');
      await expect(m.client.getAvatarVideo({ taskId: 't1' })).rejects.toMatchObject({
        kind: 'protocol',
        retryable: false,
      });
    });

    it('code 0 with data of the wrong shape is a protocol error', async () => {
      m.mock
        .get(origin)
        .intercept({ path, method: 'GET' })
        .reply(200, { code: 0, message: 'SUCCEED', request_id: 'r1', data: { nope: true } });
      await expect(m.client.getAvatarVideo({ taskId: 't1' })).rejects.toMatchObject({
        kind: 'protocol',
        requestId: 'r1',
      });
    });

    it('an error envelope with HTTP 200 and `msg` instead of `message` is still classified by its code', async () => {
      m.mock
        .get(origin)
        .intercept({ path, method: 'GET' })
        .reply(200, { code: 1302, msg: 'rate too high', request_id: 'r2' });
      const err = await rejectionOf(m.client.getAvatarVideo({ taskId: 't1' }));
      expect(err).toMatchObject({ kind: 'rate_limit', retryable: true, code: '1302', requestId: 'r2' });
      expect((err as Error).message).toContain('rate too high');
    });

    it('string durations, second timestamps and "succeeded" are normalized', async () => {
      m.mock
        .get(origin)
        .intercept({ path, method: 'GET' })
        .reply(200, {
          code: 0,
          message: 'SUCCEED',
          request_id: 'r3',
          data: {
            task_id: 't1',
            task_status: 'succeeded',
            created_at: 1722769557,
            updated_at: '1722769557708',
            task_result: { videos: [{ id: 'v1', url: 'https://cdn/v.mp4', duration: '5.1' }] },
          },
        });
      const t = await m.client.getAvatarVideo({ taskId: 't1' });
      expect(t).toMatchObject({
        status: 'SUCCEEDED',
        rawStatus: 'succeeded',
        externalTaskId: null,
        statusMessage: null,
        finalUnitDeduction: null,
      });
      expect(t.createdAt?.toISOString()).toBe('2024-08-04T11:05:57.000Z');
      expect(t.updatedAt?.getTime()).toBe(1722769557708);
      expect(t.videos).toEqual([{ id: 'v1', url: 'https://cdn/v.mp4', watermarkUrl: null, durationSeconds: 5.1 }]);
    });
  });
});
