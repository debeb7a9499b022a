import { parseBuffer } from 'music-metadata';
import { MockAgent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DigitalHumanClient,
  ProviderError,
  createHttpDispatcher,
  digitalHumanStatusToUnified,
  isTerminal,
  type DigitalHumanTask,
} from '../src/index.js';
import { parseProgress } from '../src/digital-human/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { rejectionOf, startMediaServer, waitFor, type MediaServer } from './helpers.js';

let sim: Simulator;
let dispatcher: Dispatcher;
let client: DigitalHumanClient;
let media: MediaServer;
/** URL inputs on a loopback media server: the simulator downloads them. */
let avatarUrl: string;
let audioUrl: string;

beforeAll(async () => {
  media = await startMediaServer();
  avatarUrl = media.portraitUrl;
  audioUrl = media.speechUrl;
  sim = await startSimulator({
    digitalHuman: {
      timing: { submittedAfterMs: 100, queuedAfterMs: 150, inProgressAfterMs: 200, finishAfterMs: 350 },
      failWhenContains: '#fail',
    },
  });
  dispatcher = createHttpDispatcher();
  client = new DigitalHumanClient({ baseUrl: sim.url, apiKey: 'sandbox-dh-key', dispatcher, timeoutMs: 2000 });
});
afterAll(async () => {
  await sim.stop();
  await media.close();
  await dispatcher.close();
});

async function untilTerminal(id: string): Promise<DigitalHumanTask> {
  return waitFor(async () => {
    const t = await client.getTask(id);
    return isTerminal(t.status) ? t : undefined;
  });
}

describe('digital human: the three create forms', () => {
  it('audio-driven form → {audio_url, avatar_url, no_watermark}', async () => {
    const id = await client.createGeneration({ audioUrl, avatarUrl, noWatermark: true });
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(sim.digitalHuman.lastRequest()).toMatchObject({ method: 'POST', path: '/avatar/generation' });
    expect(sim.digitalHuman.lastRequest()?.body).toEqual({
      avatar_url: avatarUrl,
      audio_url: audioUrl,
      no_watermark: true,
    });
  });

  it('voice-clone form → {create_voice:{audio_url, language, text}, avatar_url}', async () => {
    await client.createGeneration({ createVoice: { audioUrl, language: 'en', text: 'Hello, world!' }, avatarUrl });
    expect(sim.digitalHuman.lastRequest()?.body).toEqual({
      avatar_url: avatarUrl,
      create_voice: { audio_url: audioUrl, language: 'en', text: 'Hello, world!' },
    });
  });

  it('stock-voice form → {use_voice:{voice_engine_id, audio_id, language, text}, avatar_url}', async () => {
    await client.createGeneration({
      useVoice: { voiceEngineId: 'nina', audioId: 'b92d', language: 'cn', text: '你好' },
      avatarUrl: media.clipUrl,
    });
    expect(sim.digitalHuman.lastRequest()?.body).toEqual({
      avatar_url: media.clipUrl,
      use_voice: { voice_engine_id: 'nina', audio_id: 'b92d', language: 'cn', text: '你好' },
    });
    expect(sim.digitalHuman.lastRequest()?.headers.authorization).toBe('Bearer sandbox-dh-key');
  });

  it.each([
    ['no form at all', () => ({ avatarUrl }), 'none given'],
    [
      'audio_url + create_voice',
      () => ({ avatarUrl, audioUrl, createVoice: { audioUrl, language: 'en', text: 't' } }),
      'audio + create_voice',
    ],
    [
      'create_voice + use_voice',
      () => ({
        avatarUrl,
        createVoice: { audioUrl, language: 'en', text: 't' },
        useVoice: { voiceEngineId: 'n', audioId: 'a', language: 'en', text: 't' },
      }),
      'create_voice + use_voice',
    ],
    ['a missing avatar_url', () => ({ audioUrl, avatarUrl: '' }), 'avatar_url'],
    [
      'create_voice without text',
      () => ({ avatarUrl, createVoice: { audioUrl, language: 'en', text: '' } }),
      'create_voice.text',
    ],
    [
      'use_voice without voice_engine_id',
      () => ({ avatarUrl, useVoice: { voiceEngineId: '', audioId: 'a', language: 'en', text: 't' } }),
      'use_voice.voice_engine_id',
    ],
    [
      'no_watermark with create_voice',
      () => ({ avatarUrl, noWatermark: true, createVoice: { audioUrl, language: 'en', text: 't' } }),
      'no_watermark',
    ],
  ])('%s is a validation error (not retryable) and creates nothing', async (_name, req, text) => {
    // Thunks: the input URLs exist only once the media server runs.
    const before = sim.digitalHuman.createCount();
    const err = await rejectionOf(client.createGeneration(req() as never));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({
      provider: 'digital_human',
      kind: 'validation',
      retryable: false,
      code: 'invalid_request',
      httpStatus: 400,
    });
    expect((err as Error).message).toContain(text);
    expect(sim.digitalHuman.createCount()).toBe(before);
  });
});

describe('digital human: lifecycle and result', () => {
  it('NOT_START/SUBMITTED/QUEUED → QUEUED, IN_PROGRESS → RUNNING with progress, SUCCESS → SUCCEEDED with the clean video', async () => {
    const id = await client.createGeneration({ audioUrl, avatarUrl, noWatermark: true });
    const raw = new Set<string>();
    const progress: number[] = [];
    const done = await waitFor(
      async () => {
        const t = await client.getTask(id);
        raw.add(`${t.rawStatus}:${t.status}`);
        if (t.status === 'RUNNING' && t.progress !== null) progress.push(t.progress);
        return isTerminal(t.status) ? t : undefined;
      },
      3000,
      5,
    );
    expect(raw).toContain('NOT_START:QUEUED');
    expect(raw).toContain('IN_PROGRESS:RUNNING');
    expect([...raw].some((r) => r === 'SUBMITTED:QUEUED' || r === 'QUEUED:QUEUED')).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p >= 0.1 && p <= 0.9)).toBe(true);
    expect(done).toMatchObject({
      taskId: id,
      rawStatus: 'SUCCESS',
      status: 'SUCCEEDED',
      progress: 1,
      failReason: null,
      // As long as its driving audio (speech-3s.mp3: 3.056 s).
      videoUrl: `${sim.url}/media/dh/avatar-sample-3056ms.mp4`,
      watermarkedVideoUrl: `${sim.url}/media/dh/avatar-sample-watermarked-3056ms.mp4`,
    });
    expect(done.submittedAt).toBeInstanceOf(Date);
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(done.submittedAt!.getTime());
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());

    const res = await request(done.videoUrl!, { dispatcher });
    expect(res.headers['content-type']).toBe('video/mp4');
    const meta = await parseBuffer(Buffer.from(await res.body.arrayBuffer()), { mimeType: 'video/mp4' });
    expect(meta.format.duration).toBeCloseTo(3.056, 2);
    expect(meta.format.hasVideo).toBe(true);
  });

  it('without no_watermark, no_wm_work_video_path is empty and videoUrl falls back to work_video_path', async () => {
    const id = await client.createGeneration({
      useVoice: { voiceEngineId: 'nina', audioId: 'x', language: 'en', text: 'hi' },
      avatarUrl,
    });
    const done = await untilTerminal(id);
    // A stock voice saying "hi" lasts the shortest speech, 1 s.
    expect(done.videoUrl).toBe(`${sim.url}/media/dh/avatar-sample-watermarked-1000ms.mp4`);
    const res = await request(done.videoUrl!, { dispatcher });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
  });

  it('a failing generation ends FAILURE → FAILED with fail_reason and no video', async () => {
    const id = await client.createGeneration({
      createVoice: { audioUrl, language: 'en', text: 'say #fail' },
      avatarUrl,
    });
    const done = await untilTerminal(id);
    expect(done).toMatchObject({ rawStatus: 'FAILURE', status: 'FAILED', videoUrl: null, watermarkedVideoUrl: null });
    expect(done.failReason).toMatch(/.+/);
  });

  it.each([
    ['NOT_START', 'QUEUED'],
    ['SUBMITTED', 'QUEUED'],
    ['QUEUED', 'QUEUED'],
    ['IN_PROGRESS', 'RUNNING'],
    ['SUCCESS', 'SUCCEEDED'],
    ['FAILURE', 'FAILED'],
    ['UNKNOWN', 'UNKNOWN'],
    ['RENDERING', 'UNKNOWN'],
  ])('status %s maps to %s', (raw, unified) => {
    expect(digitalHumanStatusToUnified(raw)).toBe(unified);
  });

  it.each([
    ['45%', 0.45],
    [' 100% ', 1],
    ['0%', 0],
    [45, 0.45],
    [0.3, 0.3],
    ['70', 0.7],
    [150, 1],
    ['abc', null],
    [null, null],
  ] as const)('progress %j → %s', (raw, expected) => {
    expect(parseProgress(raw)).toBe(expected);
  });
});

describe('digital human: input downloads', () => {
  const fetchesOf = (...urls: string[]) => sim.digitalHuman.inputFetches().filter((f) => urls.includes(f.url));

  it('downloads avatar_url and audio_url (status, bytes, content type recorded)', async () => {
    const a = `${media.portraitUrl}?t=dh-ok`;
    const b = `${media.speechUrl}?t=dh-ok`;
    const id = await client.createGeneration({ audioUrl: b, avatarUrl: a });
    await expect(untilTerminal(id)).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect(fetchesOf(a, b)).toEqual([
      { url: a, status: 200, bytes: media.size('portrait.png'), contentType: 'image/png' },
      { url: b, status: 200, bytes: media.size('speech.mp3'), contentType: 'audio/mpeg' },
    ]);
  });

  it('downloads create_voice.audio_url; use_voice has only avatar_url to download', async () => {
    const b = `${media.speechUrl}?t=dh-clone`;
    const v = `${media.clipUrl}?t=dh-stock`;
    await client.createGeneration({ createVoice: { audioUrl: b, language: 'en', text: 'hello' }, avatarUrl });
    await client.createGeneration({
      useVoice: { voiceEngineId: 'nina', audioId: 'x', language: 'en', text: 'hi' },
      avatarUrl: v,
    });
    await waitFor(() => (fetchesOf(b, v).length === 2 ? true : undefined));
    expect(fetchesOf(b, v)).toEqual([
      { url: b, status: 200, bytes: media.size('speech.mp3'), contentType: 'audio/mpeg' },
      { url: v, status: 200, bytes: media.size('clip.mp4'), contentType: 'video/mp4' },
    ]);
  });

  it.each([
    ['avatar_url', 404],
    ['audio_url', 403],
    ['create_voice.audio_url', 404],
  ] as const)(
    '%s answering HTTP %i ends FAILURE with a fail_reason naming the field, never IN_PROGRESS',
    async (field, status) => {
      const bad = `${media.statusUrl(status)}?t=dh-${field}`;
      const req =
        field === 'avatar_url'
          ? { audioUrl, avatarUrl: bad }
          : field === 'audio_url'
            ? { audioUrl: bad, avatarUrl }
            : { createVoice: { audioUrl: bad, language: 'en', text: 'hello' }, avatarUrl };
      const id = await client.createGeneration(req);
      const raw = new Set<string>();
      const done = await waitFor(
        async () => {
          const t = await client.getTask(id);
          raw.add(t.rawStatus);
          return isTerminal(t.status) ? t : undefined;
        },
        3000,
        5,
      );
      expect(raw).not.toContain('IN_PROGRESS');
      expect(done).toMatchObject({
        rawStatus: 'FAILURE',
        status: 'FAILED',
        failReason: `failed to download ${field} (HTTP ${status})`,
        videoUrl: null,
      });
      expect(fetchesOf(bad)).toEqual([{ url: bad, status, bytes: expect.any(Number), contentType: 'text/plain' }]);
    },
  );

  it('a download slower than inProgressAfterMs keeps the task QUEUED until it has finished', async () => {
    const slow = media.slowPortraitUrl(400);
    const started = Date.now();
    const id = await client.createGeneration({ audioUrl, avatarUrl: slow });
    const seen: string[] = [];
    const done = await waitFor(
      async () => {
        const t = await client.getTask(id);
        if (seen.at(-1) !== t.rawStatus) seen.push(t.rawStatus);
        if (t.rawStatus === 'IN_PROGRESS') expect(Date.now() - started).toBeGreaterThanOrEqual(390);
        return isTerminal(t.status) ? t : undefined;
      },
      3000,
      5,
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(seen).toEqual(['NOT_START', 'SUBMITTED', 'QUEUED', 'IN_PROGRESS', 'SUCCESS']);
  });

  it('with fetchInputs: false nothing is downloaded', async () => {
    const off = await startSimulator({
      digitalHuman: {
        fetchInputs: false,
        timing: { submittedAfterMs: 1, queuedAfterMs: 2, inProgressAfterMs: 3, finishAfterMs: 20 },
      },
    });
    try {
      const c = new DigitalHumanClient({ baseUrl: off.url, apiKey: 'sandbox-dh-key', dispatcher });
      const id = await c.createGeneration({ audioUrl: media.statusUrl(404), avatarUrl: media.statusUrl(404) });
      const done = await waitFor(async () => {
        const t = await c.getTask(id);
        return isTerminal(t.status) ? t : undefined;
      });
      expect(done.status).toBe('SUCCEEDED');
      expect(off.digitalHuman.inputFetches()).toEqual([]);
    } finally {
      await off.stop();
    }
  });
});

describe('digital human: errors', () => {
  it('a wrong key is auth, not retryable', async () => {
    const bad = new DigitalHumanClient({ baseUrl: sim.url, apiKey: 'nope', dispatcher });
    await expect(bad.getTask('x')).rejects.toMatchObject({
      kind: 'auth',
      retryable: false,
      httpStatus: 401,
      code: 'unauthorized',
    });
  });

  it('an unknown task id is not_found', async () => {
    await expect(client.getTask('does-not-exist')).rejects.toMatchObject({
      kind: 'not_found',
      retryable: false,
      code: 'task_not_found',
    });
  });

  it.each([
    [402, 'insufficient_quota', 'quota', false],
    [403, 'model_disabled', 'permission', false],
    [429, 'rate_limit_exceeded', 'rate_limit', true],
    [500, 'server_error', 'upstream', true],
    [503, 'service_unavailable', 'upstream', true],
    [200, 'sensitive_words_detected', 'policy', false],
    [200, 'fail', 'upstream', false],
  ] as const)('HTTP %i code %s → %s, retryable %s', async (httpStatus, code, kind, retryable) => {
    sim.digitalHuman.setNextCreateError({ httpStatus, code, message: `simulated ${code}` });
    const err = await rejectionOf(client.createGeneration({ audioUrl, avatarUrl }));
    expect(err).toMatchObject({ provider: 'digital_human', code, kind, retryable, httpStatus });
  });
});

describe('digital human quirks (MockAgent)', () => {
  const origin = 'https://dh.mock';
  let mock: MockAgent;
  let mocked: DigitalHumanClient;
  beforeAll(() => {
    mock = new MockAgent();
    mock.disableNetConnect();
    mocked = new DigitalHumanClient({ baseUrl: origin, apiKey: 'k', dispatcher: mock });
  });
  afterAll(() => mock.close());

  it("create: the page's own example shape {code:0, data:{id}} is accepted too", async () => {
    mock
      .get(origin)
      .intercept({ path: '/avatar/generation', method: 'POST' })
      .reply(200, { code: 0, data: { id: 'abc' } });
    await expect(mocked.createGeneration({ audioUrl, avatarUrl })).resolves.toBe('abc');
  });

  it('create: code "success" with no id is a protocol error', async () => {
    mock
      .get(origin)
      .intercept({ path: '/avatar/generation', method: 'POST' })
      .reply(200, { code: 'success', message: '', data: '' });
    await expect(mocked.createGeneration({ audioUrl, avatarUrl })).rejects.toMatchObject({ kind: 'protocol' });
  });

  it('task: UNKNOWN status, numeric progress, ms timestamps, empty paths are absorbed', async () => {
    mock
      .get(origin)
      .intercept({ path: '/avatar/task/t1', method: 'GET' })
      .reply(200, {
        code: 'success',
        message: '',
        data: {
          task_id: 't1',
          status: 'UNKNOWN',
          progress: 35,
          submit_time: 1722769557000,
          start_time: '1722769560',
          finish_time: 0,
          fail_reason: '',
          data: { work_video_path: '' },
        },
      });
    const t = await mocked.getTask('t1');
    expect(t).toMatchObject({
      status: 'UNKNOWN',
      rawStatus: 'UNKNOWN',
      progress: 0.35,
      finishedAt: null,
      videoUrl: null,
      failReason: null,
    });
    expect(t.submittedAt?.getTime()).toBe(1722769557000);
    expect(t.startedAt?.getTime()).toBe(1722769560000);
    expect(isTerminal(t.status)).toBe(false);
  });

  it('a gateway body {error:{message, code}} is classified by its code', async () => {
    mock
      .get(origin)
      .intercept({ path: '/avatar/task/t1', method: 'GET' })
      .reply(403, { error: { message: 'quota used up', type: 'new_api_error', code: 'insufficient_user_quota' } });
    await expect(mocked.getTask('t1')).rejects.toMatchObject({
      kind: 'quota',
      retryable: false,
      code: 'insufficient_user_quota',
      httpStatus: 403,
    });
  });

  it('an HTML 502 is retryable upstream; a 200 that is not JSON is a protocol error', async () => {
    mock.get(origin).intercept({ path: '/avatar/task/t1', method: 'GET' }).reply(502, '<html>bad gateway</html>');
    await expect(mocked.getTask('t1')).rejects.toMatchObject({ kind: 'upstream', retryable: true, httpStatus: 502 });
    mock.get(origin).intercept({ path: '/avatar/task/t1', method: 'GET' }).reply(200, 'ok');
    await expect(mocked.getTask('t1')).rejects.toMatchObject({ kind: 'protocol', retryable: false });
  });
});
