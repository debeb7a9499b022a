import { parseBuffer } from 'music-metadata';
import { request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KlingClient,
  ProviderError,
  createHttpDispatcher,
  isTerminal,
  parseKlingCallback,
  type KlingTask,
} from '../src/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import {
  mockedKling,
  rejectionOf,
  startMediaServer,
  startReceiver,
  waitFor,
  type MediaServer,
  type Receiver,
} from './helpers.js';

let sim: Simulator;
let receiver: Receiver;
let dispatcher: Dispatcher;
let client: KlingClient;
let media: MediaServer;
/** URL inputs on a loopback media server: the simulator downloads them. */
let videoUrl: string;
let run = 0;
const extId = (label: string) => `${label}-${Date.now()}-${++run}`;

beforeAll(async () => {
  media = await startMediaServer();
  videoUrl = media.clipUrl;
  sim = await startSimulator({
    kling: {
      timing: { processingAfterMs: 40, succeedAfterMs: 100 },
      videoToAudioTiming: { processingAfterMs: 60, succeedAfterMs: 150 },
      failPromptContains: '#fail',
    },
  });
  receiver = await startReceiver();
  dispatcher = createHttpDispatcher();
  client = new KlingClient({ baseUrl: sim.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher, timeoutMs: 2000 });
});
afterAll(async () => {
  await sim.stop();
  await receiver.close();
  await media.close();
  await dispatcher.close();
});

async function untilTerminal(taskId: string, c: KlingClient = client): Promise<KlingTask> {
  return waitFor(async () => {
    const t = await c.getVideoToAudio({ taskId });
    return isTerminal(t.status) ? t : undefined;
  });
}

async function download(url: string): Promise<{ type: string; bytes: Buffer }> {
  const res = await request(url, { dispatcher });
  expect(res.statusCode).toBe(200);
  return { type: String(res.headers['content-type']), bytes: Buffer.from(await res.body.arrayBuffer()) };
}

describe('Kling video-to-audio: request mapping', () => {
  it('every documented field reaches POST /v1/audio/video-to-audio under its Kling name', async () => {
    const externalTaskId = extId('v2a-map');
    const task = await client.createVideoToAudio({
      videoUrl,
      soundEffectPrompt: 'footsteps on gravel',
      bgmPrompt: 'calm piano',
      asmrMode: true,
      callbackUrl: receiver.url,
      externalTaskId,
    });
    const last = sim.kling.lastRequest();
    expect(last?.method).toBe('POST');
    expect(last?.path).toBe('/v1/audio/video-to-audio');
    expect(last?.body).toEqual({
      video_url: videoUrl,
      sound_effect_prompt: 'footsteps on gravel',
      bgm_prompt: 'calm piano',
      asmr_mode: true,
      callback_url: receiver.url,
      external_task_id: externalTaskId,
    });
    expect(task).toMatchObject({ status: 'QUEUED', rawStatus: 'submitted', externalTaskId, audios: [], videos: [] });
  });

  it('videoId is sent as video_id alone, and a video id from an avatar task becomes the parent video', async () => {
    const avatar = await client.createAvatarVideo({ image: media.portraitUrl, soundFile: media.speechUrl });
    const done = await waitFor(async () => {
      const t = await client.getAvatarVideo({ taskId: avatar.taskId });
      return t.status === 'SUCCEEDED' ? t : undefined;
    });
    const videoId = done.videos[0]!.id;
    const created = await client.createVideoToAudio({ videoId });
    expect(sim.kling.lastRequest()?.body).toEqual({ video_id: videoId });
    const result = await untilTerminal(created.taskId);
    // The avatar lasts as long as its sound (speech-3s.mp3: 3.056 s).
    expect(result.parentVideo).toEqual({ id: videoId, url: done.videos[0]!.url, durationSeconds: 3.056 });
  });

  it.each([
    ['both video_id and video_url', () => ({ videoId: 'v1', videoUrl }), 'video_url'],
    ['neither video_id nor video_url', () => ({}), 'video_id'],
    [
      'a sound_effect_prompt of 201 chars',
      () => ({ videoUrl, soundEffectPrompt: 'x'.repeat(201) }),
      'sound_effect_prompt',
    ],
    ['a bgm_prompt of 201 chars', () => ({ videoUrl, bgmPrompt: 'y'.repeat(201) }), 'bgm_prompt'],
    ['a non-URL video_url', () => ({ videoUrl: 'clip.mp4' }), 'video_url'],
  ])(
    '%s → HTTP 400 code 1201, validation, not retryable, naming the field; no task created',
    async (_name, req, field) => {
      const before = sim.kling.createCount('video_to_audio');
      // Thunks: the URLs exist once the media server runs.
      const err = await rejectionOf(client.createVideoToAudio(req() as never));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({
        provider: 'kling',
        code: '1201',
        httpStatus: 400,
        kind: 'validation',
        retryable: false,
      });
      expect((err as Error).message).toContain(field);
      expect(sim.kling.createCount('video_to_audio')).toBe(before);
    },
  );

  it('prompts of exactly 200 characters are accepted', async () => {
    const t = await client.createVideoToAudio({
      videoUrl,
      soundEffectPrompt: 'a'.repeat(200),
      bgmPrompt: 'b'.repeat(200),
    });
    expect(t.status).toBe('QUEUED');
  });
});

describe('Kling video-to-audio: lifecycle and result', () => {
  it('the result is as long as the video_url; outside 3.0–20.0 s the task fails as Kling would', async () => {
    // Videos of any length, made by the simulator itself from its sample.
    const clip = (ms: number) => `${sim.url}/media/kling/video-with-sound-sample-${ms}ms.mp4`;
    const [ok, short, long] = await Promise.all(
      [7500, 2000, 20_500].map(async (ms) => (await client.createVideoToAudio({ videoUrl: clip(ms) })).taskId),
    );
    const done = await untilTerminal(ok!);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.parentVideo?.durationSeconds).toBe(7.5);
    expect(done.videos[0]!.durationSeconds).toBe(7.5);
    expect(done.audios[0]!.wavDurationSeconds).toBe(7.5);
    for (const [id, shown] of [
      [short!, '2.0'],
      [long!, '20.5'],
    ] as const) {
      const failed = await untilTerminal(id);
      expect(failed.status).toBe('FAILED');
      expect(failed.statusMessage).toBe(`video_url duration ${shown} s is outside 3.0-20.0 s`);
    }
  });

  it('goes QUEUED → RUNNING → SUCCEEDED with audios (mp3 + wav), the mixed video and the parent video', async () => {
    const externalTaskId = extId('v2a-life');
    const created = await client.createVideoToAudio({ videoUrl, soundEffectPrompt: 'rain', externalTaskId });
    const seen = new Set<string>();
    const done = await waitFor(
      async () => {
        const t = await client.getVideoToAudio({ taskId: created.taskId });
        seen.add(t.status);
        return isTerminal(t.status) ? t : undefined;
      },
      3000,
      10,
    );
    expect([...seen]).toEqual(expect.arrayContaining(['QUEUED', 'RUNNING', 'SUCCEEDED']));
    expect(done.audios).toHaveLength(1);
    expect(done.audios[0]).toEqual({
      id: expect.any(String),
      // As long as the 3.0 s input video (the MP3 to its whole frame).
      mp3Url: `${sim.url}/media/kling/sound-sample-3000ms.mp3`,
      wavUrl: `${sim.url}/media/kling/sound-sample-3000ms.wav`,
      mp3DurationSeconds: 3.004,
      wavDurationSeconds: 3,
    });
    expect(done.videos).toEqual([
      {
        id: expect.any(String),
        url: `${sim.url}/media/kling/video-with-sound-sample-3000ms.mp4`,
        watermarkUrl: null,
        durationSeconds: 3,
      },
    ]);
    expect(done.parentVideo).toEqual({ id: expect.any(String), url: videoUrl, durationSeconds: 3 });
    expect(done.finalUnitDeduction).toBe('1');
    expect(await client.getVideoToAudio({ externalTaskId })).toEqual(done);
  });

  it('the mp3, the wav and the mixed mp4 are real media that parse with durations', async () => {
    const created = await client.createVideoToAudio({ videoUrl });
    const done = await untilTerminal(created.taskId);
    const audio = done.audios[0]!;

    const mp3 = await download(audio.mp3Url!);
    expect(mp3.type).toBe('audio/mpeg');
    const mp3Meta = await parseBuffer(mp3.bytes, { mimeType: 'audio/mpeg' }, { duration: true });
    expect(mp3Meta.format.codec).toMatch(/MPEG/);
    expect(mp3Meta.format.duration).toBeGreaterThan(2.5);

    const wav = await download(audio.wavUrl!);
    expect(wav.type).toBe('audio/wav');
    const wavMeta = await parseBuffer(wav.bytes, { mimeType: 'audio/wav' });
    expect(wavMeta.format.container).toBe('WAVE');
    expect(wavMeta.format.sampleRate).toBe(8000);
    expect(wavMeta.format.duration).toBeCloseTo(audio.wavDurationSeconds!, 1);

    const mp4 = await download(done.videos[0]!.url);
    expect(mp4.type).toBe('video/mp4');
    const mp4Meta = await parseBuffer(mp4.bytes, { mimeType: 'video/mp4' });
    expect(mp4Meta.format.duration).toBeCloseTo(3, 0);
    expect(mp4Meta.format.hasVideo).toBe(true);
    expect(mp4Meta.format.hasAudio).toBe(true);
  });

  it('a failing prompt ends FAILED with a message and no outputs', async () => {
    const created = await client.createVideoToAudio({ videoUrl, bgmPrompt: 'music #fail' });
    const done = await untilTerminal(created.taskId);
    expect(done).toMatchObject({ status: 'FAILED', rawStatus: 'failed', audios: [], videos: [] });
    expect(done.statusMessage).toMatch(/.+/);
  });

  it('list returns video-to-audio tasks only, newest first; avatar tasks stay on their own list', async () => {
    const a = await client.createVideoToAudio({ videoUrl, externalTaskId: extId('list-a') });
    const b = await client.createVideoToAudio({ videoUrl, externalTaskId: extId('list-b') });
    const avatar = await client.createAvatarVideo({ image: media.portraitUrl, audioId: 'x' });
    const page = await client.listVideoToAudio({ pageNum: 1, pageSize: 2 });
    expect(page.map((t) => t.taskId)).toEqual([b.taskId, a.taskId]);
    const all = await client.listVideoToAudio({ pageSize: 500 });
    expect(all.some((t) => t.taskId === avatar.taskId)).toBe(false);
    expect(sim.kling.lastRequest()?.path).toBe('/v1/audio/video-to-audio?pageNum=1&pageSize=500');
  });

  it('an unknown id is 1203 not_found; page arguments are checked client-side', async () => {
    await expect(client.getVideoToAudio({ taskId: 'nope' })).rejects.toMatchObject({
      code: '1203',
      kind: 'not_found',
      retryable: false,
    });
    await expect(client.listVideoToAudio({ pageSize: 501 })).rejects.toMatchObject({
      kind: 'validation',
      code: 'INVALID_ARGUMENT',
    });
  });

  it('counts creates per external id and per capability: one retried-after-lookup task is one create', async () => {
    const externalTaskId = extId('count');
    const before = sim.kling.createCount('video_to_audio');
    await client.createVideoToAudio({ videoUrl, externalTaskId });
    // The caller is unsure the submit landed: it looks the id up instead of resubmitting.
    const found = await client.getVideoToAudio({ externalTaskId });
    expect(found.externalTaskId).toBe(externalTaskId);
    expect(sim.kling.createsFor(externalTaskId)).toBe(1);
    expect(sim.kling.createCount('video_to_audio')).toBe(before + 1);
  });
});

describe('Kling video-to-audio: video_url download', () => {
  const fetchesOf = (...urls: string[]) => sim.kling.inputFetches().filter((f) => urls.includes(f.url));

  it('downloads video_url (status, bytes, content type recorded) before the task ends', async () => {
    const url = `${media.clipUrl}?t=v2a-ok`;
    const created = await client.createVideoToAudio({ videoUrl: url });
    await expect(untilTerminal(created.taskId)).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect(fetchesOf(url)).toEqual([{ url, status: 200, bytes: media.size('clip.mp4'), contentType: 'video/mp4' }]);
    expect(media.requests).toContain('/clip.mp4?t=v2a-ok');
  });

  it('a video_id is not downloaded', async () => {
    const before = sim.kling.inputFetches().length;
    const created = await client.createVideoToAudio({ videoId: 'some-video' });
    await untilTerminal(created.taskId);
    expect(sim.kling.inputFetches()).toHaveLength(before);
  });

  it('a video_url answering 404 ends the task failed with task_status_msg naming video_url; callbacks say so', async () => {
    const url = `${media.statusUrl(404)}?t=v2a-404`;
    const created = await client.createVideoToAudio({ videoUrl: url, callbackUrl: receiver.url });
    const done = await untilTerminal(created.taskId);
    expect(done).toMatchObject({
      status: 'FAILED',
      rawStatus: 'failed',
      statusMessage: 'failed to download video_url (HTTP 404)',
      audios: [],
      videos: [],
    });
    expect(fetchesOf(url)).toEqual([{ url, status: 404, bytes: expect.any(Number), contentType: 'text/plain' }]);
    const last = await waitFor(() =>
      receiver.bodies.find(
        (b) =>
          (b as { task_id?: string; task_status?: string }).task_id === created.taskId &&
          (b as { task_status: string }).task_status === 'failed',
      ),
    );
    expect(parseKlingCallback(last)).toMatchObject({
      status: 'FAILED',
      statusMessage: 'failed to download video_url (HTTP 404)',
    });
  });

  it('a download slower than succeedAfterMs delays the end until it has finished', async () => {
    const url = `${media.clipUrl}?delayMs=300`;
    const started = Date.now();
    const created = await client.createVideoToAudio({ videoUrl: url });
    const done = await untilTerminal(created.taskId);
    expect(done.status).toBe('SUCCEEDED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(fetchesOf(url)).toEqual([{ url, status: 200, bytes: media.size('clip.mp4'), contentType: 'video/mp4' }]);
  });
});

describe('Kling video-to-audio: callbacks', () => {
  const bodiesFor = (taskId: string) => receiver.bodies.filter((b) => (b as { task_id?: string }).task_id === taskId);

  it('POSTs on every status change; parseKlingCallback yields audios and parentVideo', async () => {
    const created = await client.createVideoToAudio({
      videoUrl,
      callbackUrl: receiver.url,
      externalTaskId: extId('cb'),
    });
    const bodies = await waitFor(() => {
      const b = bodiesFor(created.taskId);
      return b.length >= 3 ? b : undefined;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(bodiesFor(created.taskId)).toHaveLength(3);
    const parsed = bodies.map((b) => parseKlingCallback(b));
    expect(parsed.map((t) => t.rawStatus)).toEqual(['submitted', 'processing', 'succeed']);
    expect((bodies[2] as { task_info: unknown }).task_info).toMatchObject({
      parent_video: { url: videoUrl, duration: '3.0' },
    });
    expect(parsed[2]!.audios[0]).toMatchObject({
      mp3Url: expect.stringMatching(/\.mp3$/),
      wavUrl: expect.stringMatching(/\.wav$/),
    });
    expect(parsed[2]!.parentVideo?.url).toBe(videoUrl);
  });

  it('avatar callbacks parse with audios [] and parentVideo null', async () => {
    const created = await client.createAvatarVideo({
      image: media.portraitUrl,
      audioId: 'x',
      callbackUrl: receiver.url,
    });
    const last = await waitFor(() =>
      bodiesFor(created.taskId).find((b) => (b as { task_status: string }).task_status === 'succeed'),
    );
    const t = parseKlingCallback(last);
    expect(t.videos).toHaveLength(1);
    expect(t.audios).toEqual([]);
    expect(t.parentVideo).toBeNull();
  });
});

describe('Kling concurrency limit (per model, slot held until terminal)', () => {
  it('over the configured slots create answers HTTP 429 code 1303 (concurrency, retryable); a finished task frees its slot', async () => {
    const limited = await startSimulator({
      kling: {
        concurrency: 2,
        timing: { processingAfterMs: 30, succeedAfterMs: 400 },
        videoToAudioTiming: { processingAfterMs: 30, succeedAfterMs: 200 },
      },
    });
    try {
      const c = new KlingClient({ baseUrl: limited.url, auth: { apiKey: 'sandbox-kling-key' }, dispatcher });
      const first = await c.createVideoToAudio({ videoUrl });
      await c.createVideoToAudio({ videoUrl });
      expect(limited.kling.activeTasks('video_to_audio')).toBe(2);
      const err = await rejectionOf(c.createVideoToAudio({ videoUrl, externalTaskId: 'third' }));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ code: '1303', httpStatus: 429, kind: 'concurrency', retryable: true });
      expect(limited.kling.createsFor('third')).toBe(1);
      expect(limited.kling.createCount('video_to_audio')).toBe(2);
      // Another model has its own slots.
      await expect(c.createAvatarVideo({ image: media.portraitUrl, audioId: 'x' })).resolves.toMatchObject({
        status: 'QUEUED',
      });
      // While processing the slot is still held.
      await waitFor(async () =>
        (await c.getVideoToAudio({ taskId: first.taskId })).status === 'RUNNING' ? true : undefined,
      );
      await expect(c.createVideoToAudio({ videoUrl })).rejects.toMatchObject({ code: '1303' });
      await untilTerminal(first.taskId, c);
      await expect(c.createVideoToAudio({ videoUrl, externalTaskId: 'third' })).resolves.toMatchObject({
        status: 'QUEUED',
      });
    } finally {
      await limited.stop();
    }
  });
});

describe('Kling video-to-audio quirks (MockAgent)', () => {
  const origin = 'https://kling.mock';
  const m = mockedKling(origin);
  const path = '/v1/audio/video-to-audio/t9';

  it('"succeeded", numeric/string durations, a missing wav, a garbled parent_video and `msg` are absorbed', async () => {
    m.mock
      .get(origin)
      .intercept({ path, method: 'GET' })
      .reply(200, {
        code: 0,
        msg: 'ok',
        data: {
          task_id: 't9',
          task_status: 'succeeded',
          created_at: '1722769557708',
          updated_at: 1722769560,
          task_info: { external_task_id: 'e9', parent_video: 'not-an-object' },
          task_result: {
            videos: [{ id: 'v', url: 'https://cdn/v.mp4', duration: 4 }],
            audios: [{ id: 'a', url_mp3: 'https://cdn/a.mp3', duration_mp3: '4.04', duration_wav: '' }],
          },
        },
      });
    const t = await m.client.getVideoToAudio({ taskId: 't9' });
    expect(t).toMatchObject({ status: 'SUCCEEDED', externalTaskId: 'e9', parentVideo: null });
    expect(t.updatedAt?.getTime()).toBe(1722769560000);
    expect(t.audios).toEqual([
      { id: 'a', mp3Url: 'https://cdn/a.mp3', wavUrl: null, mp3DurationSeconds: 4.04, wavDurationSeconds: null },
    ]);
    expect(t.videos[0]?.durationSeconds).toBe(4);
  });

  it('an unknown status is UNKNOWN (keep polling), not an error', async () => {
    m.mock
      .get(origin)
      .intercept({ path, method: 'GET' })
      .reply(200, { code: 0, message: 'SUCCEED', data: { task_id: 't9', task_status: 'mixing' } });
    const t = await m.client.getVideoToAudio({ taskId: 't9' });
    expect(t).toMatchObject({ status: 'UNKNOWN', rawStatus: 'mixing', audios: [], parentVideo: null });
    expect(isTerminal(t.status)).toBe(false);
  });

  it('an audio with neither url_mp3 nor url_wav is a protocol error', async () => {
    m.mock
      .get(origin)
      .intercept({ path, method: 'GET' })
      .reply(200, {
        code: 0,
        message: 'SUCCEED',
        data: { task_id: 't9', task_status: 'succeed', task_result: { audios: [{ id: 'a' }] } },
      });
    await expect(m.client.getVideoToAudio({ taskId: 't9' })).rejects.toMatchObject({
      kind: 'protocol',
      retryable: false,
    });
  });
});

describe('Kling simulator: lastCreateBody', () => {
  it('returns the create body by task_id or external_task_id, for either capability', async () => {
    const externalTaskId = extId('body');
    const t = await client.createVideoToAudio({
      videoUrl,
      bgmPrompt: 'strings',
      externalTaskId,
      callbackUrl: receiver.url,
    });
    const expected = {
      video_url: videoUrl,
      bgm_prompt: 'strings',
      external_task_id: externalTaskId,
      callback_url: receiver.url,
    };
    expect(sim.kling.lastCreateBody(t.taskId)).toEqual(expected);
    expect(sim.kling.lastCreateBody(externalTaskId)).toEqual(expected);
    const a = await client.createAvatarVideo({ image: media.portraitUrl, audioId: 'x' });
    expect(sim.kling.lastCreateBody(a.taskId)).toEqual({ image: media.portraitUrl, audio_id: 'x' });
    expect(sim.kling.lastCreateBody('unknown')).toBeUndefined();
  });
});
