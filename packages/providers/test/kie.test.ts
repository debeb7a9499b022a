import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBuffer } from 'music-metadata';
import { MockAgent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KieClient,
  ProviderError,
  createHttpDispatcher,
  isTerminal,
  kieStateToUnified,
  parseKieCallback,
  verifyKieSignature,
  type KieTask,
} from '../src/index.js';
import { classifyKieError, signKieCallback } from '../src/kie/index.js';
import { fixturesDir, mediaDir, startSimulator, type Simulator } from '../src/simulator/index.js';
import { rejectionOf, startMediaServer, startReceiver, waitFor, type MediaServer, type Receiver } from './helpers.js';

const HMAC = 'kie-hmac-secret';
let sim: Simulator;
let receiver: Receiver;
let dispatcher: Dispatcher;
let client: KieClient;
let media: MediaServer;
/** URL inputs on a loopback media server: the simulator downloads them. */
let input: { imageUrl: string; audioUrl: string; prompt: string };

beforeAll(async () => {
  media = await startMediaServer();
  input = { imageUrl: media.portraitUrl, audioUrl: media.speechUrl, prompt: 'a woman recording a podcast' };
  sim = await startSimulator({
    kie: {
      timing: { queuingAfterMs: 20, generatingAfterMs: 60, completeAfterMs: 130 },
      failPromptContains: '#fail',
      hmacKey: HMAC,
      rateLimit: { creates: 1000, windowMs: 10_000 },
    },
  });
  receiver = await startReceiver();
  dispatcher = createHttpDispatcher();
  client = new KieClient({
    apiKey: 'sandbox-kie-key',
    baseUrl: sim.url,
    uploadBaseUrl: sim.url,
    dispatcher,
    timeoutMs: 2000,
  });
});
afterAll(async () => {
  await sim.stop();
  await receiver.close();
  await media.close();
  await dispatcher.close();
});

async function untilTerminal(taskId: string): Promise<KieTask> {
  return waitFor(async () => {
    const t = await client.recordInfo(taskId);
    return isTerminal(t.status) ? t : undefined;
  });
}

describe('KIE createTask: request mapping and validation', () => {
  it('every documented field reaches POST /api/v1/jobs/createTask under its KIE name', async () => {
    const taskId = await client.createTask({ ...input, resolution: '720p', seed: 12345, callBackUrl: receiver.url });
    expect(taskId).toMatch(/^task_infinitalk_/);
    const last = sim.kie.lastRequest();
    expect(last?.path).toBe('/api/v1/jobs/createTask');
    expect(last?.headers.authorization).toBe('Bearer sandbox-kie-key');
    expect(last?.body).toEqual({
      model: 'infinitalk/from-audio',
      callBackUrl: receiver.url,
      input: {
        image_url: input.imageUrl,
        audio_url: input.audioUrl,
        prompt: input.prompt,
        resolution: '720p',
        seed: 12345,
      },
    });
  });

  it('optional fields are omitted, not sent empty', async () => {
    await client.createTask(input);
    expect(sim.kie.lastRequest()?.body).toEqual({
      model: 'infinitalk/from-audio',
      input: { image_url: input.imageUrl, audio_url: input.audioUrl, prompt: input.prompt },
    });
  });

  it.each([
    ['a prompt of 5001 chars', { prompt: 'p'.repeat(5001) }, 'prompt'],
    ['an empty prompt', { prompt: '' }, 'prompt'],
    ['resolution 1080p', { resolution: '1080p' }, 'resolution'],
    ['seed 9999', { seed: 9999 }, 'seed'],
    ['seed 1000001', { seed: 1_000_001 }, 'seed'],
    ['seed 12345.5', { seed: 12345.5 }, 'seed'],
    ['a missing image_url', { imageUrl: '' }, 'image_url'],
    ['a missing audio_url', { audioUrl: undefined }, 'audio_url'],
  ])('%s → code 422 validation, not retryable, naming the field', async (_name, patch, field) => {
    const before = sim.kie.createCount();
    const err = await rejectionOf(client.createTask({ ...input, ...patch } as never));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: 'kie', code: '422', kind: 'validation', retryable: false });
    expect((err as Error).message).toContain(field);
    expect(sim.kie.createCount()).toBe(before);
  });

  it('a 5000-char prompt and the seed bounds 10000 / 1000000 are accepted', async () => {
    await expect(client.createTask({ ...input, prompt: 'p'.repeat(5000), seed: 10_000 })).resolves.toMatch(/.+/);
    await expect(client.createTask({ ...input, seed: 1_000_000 })).resolves.toMatch(/.+/);
  });
});

describe('KIE error codes (classified by body code)', () => {
  it.each([
    [401, 'auth', false],
    [402, 'quota', false],
    [404, 'not_found', false],
    [422, 'validation', false],
    [429, 'rate_limit', true],
    [433, 'quota', false],
    [455, 'upstream', true],
    [500, 'upstream', true],
    [501, 'upstream', false],
    [505, 'permission', false],
  ] as const)('code %i → %s, retryable %s (HTTP status mirrors the code)', async (code, kind, retryable) => {
    sim.kie.setNextCreateError({ code, message: `simulated ${code}` });
    const err = await rejectionOf(client.createTask(input));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: 'kie', code: String(code), kind, retryable, httpStatus: code });
    expect((err as Error).message).toContain(`simulated ${code}`);
  });

  it.each([
    [429, true],
    [455, true],
    [500, true],
    [402, false],
    [501, false],
  ] as const)(
    'code %i with HTTP 200 and `message` instead of `msg` is still an error, retryable %s',
    async (code, retryable) => {
      sim.kie.setNextCreateError({ code, message: 'in message field', httpStatus: 200, messageField: 'message' });
      const err = await rejectionOf(client.createTask(input));
      expect(err).toMatchObject({ code: String(code), retryable, httpStatus: 200 });
      expect((err as Error).message).toContain('in message field');
    },
  );

  it('a wrong key is 401 auth, not retryable', async () => {
    const bad = new KieClient({ apiKey: 'nope', baseUrl: sim.url, dispatcher });
    await expect(bad.recordInfo('x')).rejects.toMatchObject({
      code: '401',
      kind: 'auth',
      retryable: false,
      httpStatus: 401,
    });
  });

  it('an unknown taskId is not_found', async () => {
    await expect(client.recordInfo('task_nope')).rejects.toMatchObject({
      code: '404',
      kind: 'not_found',
      retryable: false,
    });
  });

  it('classifyKieError: unknown 5xx codes are retryable, unknown 4xx are not', () => {
    expect(classifyKieError({ httpStatus: 200, code: 503, message: '' })).toMatchObject({
      kind: 'upstream',
      retryable: true,
    });
    expect(classifyKieError({ httpStatus: 200, code: 418, message: '' })).toMatchObject({
      kind: 'validation',
      retryable: false,
    });
    expect(classifyKieError({ httpStatus: 502, code: 418, message: '' })).toMatchObject({
      kind: 'upstream',
      retryable: true,
    });
  });
});

describe('KIE lifecycle, recordInfo and outputs', () => {
  it('waiting/queuing → generating → success; param is the parsed create body; resultUrls serve a real mp4', async () => {
    const taskId = await client.createTask({ ...input, seed: 424242 });
    const seen = new Set<string>();
    const done = await waitFor(
      async () => {
        const t = await client.recordInfo(taskId);
        seen.add(`${t.rawState}:${t.status}`);
        return isTerminal(t.status) ? t : undefined;
      },
      3000,
      5,
    );
    expect(seen).toContain('generating:RUNNING');
    expect([...seen].some((s) => s === 'waiting:QUEUED' || s === 'queuing:QUEUED')).toBe(true);
    expect(done).toMatchObject({
      taskId,
      model: 'infinitalk/from-audio',
      rawState: 'success',
      status: 'SUCCEEDED',
      failCode: null,
      failMsg: null,
    });
    expect(done.param).toEqual({
      model: 'infinitalk/from-audio',
      input: { image_url: input.imageUrl, audio_url: input.audioUrl, prompt: input.prompt, seed: 424242 },
    });
    expect(done.costTimeMs).toBeGreaterThan(0);
    expect(done.completedAt!.getTime()).toBeGreaterThanOrEqual(done.createdAt!.getTime());
    expect(done.updatedAt).toBeInstanceOf(Date);
    expect(sim.kie.lastRequest()?.path).toBe(`/api/v1/jobs/recordInfo?taskId=${taskId}`);

    expect(done.resultUrls).toHaveLength(1);
    const res = await request(done.resultUrls[0]!, { dispatcher });
    expect(res.headers['content-type']).toBe('video/mp4');
    const meta = await parseBuffer(Buffer.from(await res.body.arrayBuffer()), { mimeType: 'video/mp4' });
    expect(meta.format.duration).toBeGreaterThan(2);
    expect(meta.format.hasVideo).toBe(true);
  });

  it('a failing generation ends fail → FAILED with failCode and failMsg, no resultUrls', async () => {
    const taskId = await client.createTask({ ...input, prompt: 'x #fail' });
    const done = await untilTerminal(taskId);
    expect(done).toMatchObject({ rawState: 'fail', status: 'FAILED', failCode: '501', resultUrls: [] });
    expect(done.failMsg).toMatch(/.+/);
  });

  it.each([
    ['waiting', 'QUEUED'],
    ['queuing', 'QUEUED'],
    ['generating', 'RUNNING'],
    ['success', 'SUCCEEDED'],
    ['fail', 'FAILED'],
    ['paused', 'UNKNOWN'],
    ['', 'UNKNOWN'],
  ])('state %j maps to %s', (raw, unified) => {
    expect(kieStateToUnified(raw)).toBe(unified);
  });
});

describe('KIE input downloads', () => {
  const fetchesOf = (...urls: string[]) => sim.kie.inputFetches().filter((f) => urls.includes(f.url));

  it('downloads input.image_url and input.audio_url (status, bytes, content type recorded) before generating', async () => {
    const imageUrl = `${media.portraitUrl}?t=dl-ok`;
    const audioUrl = `${media.speechUrl}?t=dl-ok`;
    const taskId = await client.createTask({ ...input, imageUrl, audioUrl });
    const done = await untilTerminal(taskId);
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    expect(fetchesOf(imageUrl, audioUrl)).toEqual([
      { url: imageUrl, status: 200, bytes: media.size('portrait.png'), contentType: 'image/png' },
      { url: audioUrl, status: 200, bytes: media.size('speech.mp3'), contentType: 'audio/mpeg' },
    ]);
    expect(media.requests).toEqual(expect.arrayContaining(['/portrait.png?t=dl-ok', '/speech.mp3?t=dl-ok']));
  });

  it.each([
    ['input.image_url', 404],
    ['input.audio_url', 403],
  ] as const)(
    '%s answering HTTP %i ends the task fail, failCode 422, failMsg naming the field and status',
    async (field, status) => {
      const bad = `${media.statusUrl(status)}?t=${field}`;
      const patch = field === 'input.image_url' ? { imageUrl: bad } : { audioUrl: bad };
      const taskId = await client.createTask({ ...input, ...patch, callBackUrl: receiver.url });
      const seen = new Set<string>();
      const done = await waitFor(
        async () => {
          const t = await client.recordInfo(taskId);
          seen.add(t.rawState);
          return isTerminal(t.status) ? t : undefined;
        },
        3000,
        5,
      );
      expect(seen).not.toContain('generating');
      expect(done).toMatchObject({
        rawState: 'fail',
        status: 'FAILED',
        failCode: '422',
        failMsg: `failed to download ${field} (HTTP ${status})`,
        resultUrls: [],
      });
      expect(fetchesOf(bad)).toEqual([{ url: bad, status, bytes: expect.any(Number), contentType: 'text/plain' }]);
      const cb = await waitFor(() =>
        receiver.bodies.find((b) => (b as { data?: { taskId?: string } }).data?.taskId === taskId),
      );
      expect(parseKieCallback(cb)).toMatchObject({ callbackCode: 422, status: 'FAILED', failCode: '422' });
    },
  );

  it('an unreachable input is recorded as an error and fails the task', async () => {
    const imageUrl = 'http://127.0.0.1:1/unreachable.png';
    const taskId = await client.createTask({ ...input, imageUrl });
    const done = await untilTerminal(taskId);
    expect(done).toMatchObject({ status: 'FAILED', failCode: '422' });
    expect(done.failMsg).toMatch(/^failed to download input\.image_url \(.+\)$/);
    expect(fetchesOf(imageUrl)).toEqual([{ url: imageUrl, status: 'error', bytes: 0, contentType: null }]);
  });

  it('a download slower than generatingAfterMs holds the task back until it has finished', async () => {
    const imageUrl = media.slowPortraitUrl(250);
    const started = Date.now();
    const taskId = await client.createTask({ ...input, imageUrl });
    const seen: string[] = [];
    const done = await waitFor(
      async () => {
        const t = await client.recordInfo(taskId);
        if (seen.at(-1) !== t.rawState) seen.push(t.rawState);
        return isTerminal(t.status) ? t : undefined;
      },
      3000,
      5,
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(seen).toContain('generating');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(fetchesOf(imageUrl)).toEqual([
      { url: imageUrl, status: 200, bytes: media.size('portrait.png'), contentType: 'image/png' },
    ]);
  });

  it('a file uploaded to KIE is downloaded from its downloadUrl', async () => {
    const png = await readFile(join(fixturesDir, 'portrait-512x640.png'));
    const f = await client.uploadStream(png, 'portrait.png', 'clipwire/inputs');
    const taskId = await client.createTask({ ...input, imageUrl: f.downloadUrl });
    await expect(untilTerminal(taskId)).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect(fetchesOf(f.downloadUrl)).toEqual([
      { url: f.downloadUrl, status: 200, bytes: png.length, contentType: 'image/png' },
    ]);
  });

  it('with fetchInputs: false nothing is downloaded', async () => {
    const off = await startSimulator({
      kie: { fetchInputs: false, timing: { queuingAfterMs: 5, generatingAfterMs: 10, completeAfterMs: 20 } },
    });
    try {
      const c = new KieClient({ apiKey: 'sandbox-kie-key', baseUrl: off.url, dispatcher });
      const imageUrl = media.statusUrl(404);
      const taskId = await c.createTask({ ...input, imageUrl });
      const done = await waitFor(async () => {
        const t = await c.recordInfo(taskId);
        return isTerminal(t.status) ? t : undefined;
      });
      expect(done.status).toBe('SUCCEEDED');
      expect(off.kie.inputFetches()).toEqual([]);
    } finally {
      await off.stop();
    }
  });

  it('stop() aborts a download in flight: no error, no late transition', async () => {
    const s = await startSimulator({
      kie: { timing: { queuingAfterMs: 5, generatingAfterMs: 10, completeAfterMs: 20 } },
    });
    const c = new KieClient({ apiKey: 'sandbox-kie-key', baseUrl: s.url, dispatcher });
    const imageUrl = media.slowPortraitUrl(2000);
    await c.createTask({ ...input, imageUrl });
    await waitFor(() => (media.requests.includes('/portrait.png?delayMs=2000') ? true : undefined));
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(s.kie.inputFetches()).toContainEqual({ url: imageUrl, status: 'error', bytes: 0, contentType: null });
  });
});

describe('KIE callbacks', () => {
  const forTask = (taskId: string) =>
    receiver.bodies
      .map((b, i) => ({ b: b as { data: { taskId: string } }, h: receiver.headers[i]! }))
      .filter((x) => x.b.data?.taskId === taskId);

  it('sends exactly one callback, at the terminal state, in KIE shape (code 200), signed', async () => {
    const taskId = await client.createTask({ ...input, callBackUrl: receiver.url });
    await untilTerminal(taskId);
    await waitFor(() => (forTask(taskId).length > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 60));
    const got = forTask(taskId);
    expect(got).toHaveLength(1);
    const body = got[0]!.b as unknown as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['code', 'data', 'msg']);
    expect(Object.keys(body['data'] as object).sort()).toEqual(
      [
        'completeTime',
        'consumeCredits',
        'costTime',
        'createTime',
        'failCode',
        'failMsg',
        'model',
        'param',
        'remainedCredits',
        'resultJson',
        'state',
        'taskId',
        'updateTime',
      ].sort(),
    );
    const cb = parseKieCallback(body);
    expect(cb).toMatchObject({ taskId, status: 'SUCCEEDED', callbackCode: 200, consumeCredits: 12 });
    expect(cb.resultUrls).toHaveLength(1);
    expect(cb.remainedCredits).toEqual(expect.any(Number));
    const h = got[0]!.h;
    expect(
      verifyKieSignature({
        taskId,
        timestampHeader: h['x-webhook-timestamp'],
        signatureHeader: h['x-webhook-signature'],
        hmacKey: HMAC,
      }),
    ).toBe(true);
  });

  it('a failed task gets its one callback with code 501', async () => {
    const taskId = await client.createTask({ ...input, prompt: 'y #fail', callBackUrl: receiver.url });
    const got = await waitFor(() => (forTask(taskId).length > 0 ? forTask(taskId) : undefined));
    const cb = parseKieCallback(got[0]!.b);
    expect(cb).toMatchObject({ callbackCode: 501, status: 'FAILED', failCode: '501' });
    const records = () =>
      sim.kie.sentCallbacks().filter((c) => (c.body as { data: { taskId: string } }).data.taskId === taskId);
    await waitFor(() => (records().length > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 60));
    expect(records()).toHaveLength(1);
  });

  it('without an hmacKey callbacks carry no signature headers', async () => {
    const plain = await startSimulator({
      kie: { timing: { queuingAfterMs: 5, generatingAfterMs: 10, completeAfterMs: 20 } },
    });
    try {
      const c = new KieClient({ apiKey: 'sandbox-kie-key', baseUrl: plain.url, dispatcher });
      const taskId = await c.createTask({ ...input, callBackUrl: receiver.url });
      const got = await waitFor(() => (forTask(taskId).length > 0 ? forTask(taskId) : undefined));
      expect(got[0]!.h['x-webhook-signature']).toBeUndefined();
      expect(got[0]!.h['x-webhook-timestamp']).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });

  it.each([
    ['null', null],
    ['no data', { code: 200, msg: 'ok' }],
    ['data without state', { code: 200, msg: 'ok', data: { taskId: 't' } }],
    ['not JSON', '{oops'],
  ])('parseKieCallback throws protocol on %s', (_name, body) => {
    expect(() => parseKieCallback(body)).toThrow(ProviderError);
    try {
      parseKieCallback(body);
    } catch (err) {
      expect(err).toMatchObject({ kind: 'protocol', provider: 'kie', retryable: false });
    }
  });

  it('parseKieCallback: unknown state → UNKNOWN, `message` instead of `msg`, JSON-string param/resultJson, raw text input', () => {
    const body = {
      code: 200,
      message: 'done',
      data: {
        taskId: 't1',
        state: 'archived',
        param: '{"model":"infinitalk/from-audio"}',
        resultJson: '{"resultUrls":["https://r/v.mp4"]}',
        costTime: '1500',
        createTime: 1722769557,
      },
    };
    const cb = parseKieCallback(JSON.stringify(body));
    expect(cb).toMatchObject({
      status: 'UNKNOWN',
      rawState: 'archived',
      callbackMessage: 'done',
      param: { model: 'infinitalk/from-audio' },
      resultUrls: ['https://r/v.mp4'],
      costTimeMs: 1500,
    });
    expect(cb.createdAt?.getTime()).toBe(1722769557000);
  });
});

describe('verifyKieSignature', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const ts = String(now / 1000);
  const sig = signKieCallback('task_a', ts, HMAC);

  it('accepts the right signature', () => {
    expect(
      verifyKieSignature({ taskId: 'task_a', timestampHeader: ts, signatureHeader: sig, hmacKey: HMAC, nowMs: now }),
    ).toBe(true);
  });
  it('is base64(HMAC-SHA256(taskId + "." + timestamp, key))', async () => {
    const { createHmac } = await import('node:crypto');
    expect(sig).toBe(createHmac('sha256', HMAC).update(`task_a.${ts}`).digest('base64'));
  });
  it('rejects a wrong key', () => {
    expect(
      verifyKieSignature({ taskId: 'task_a', timestampHeader: ts, signatureHeader: sig, hmacKey: 'other', nowMs: now }),
    ).toBe(false);
  });
  it('rejects the same headers replayed on another taskId', () => {
    expect(
      verifyKieSignature({ taskId: 'task_b', timestampHeader: ts, signatureHeader: sig, hmacKey: HMAC, nowMs: now }),
    ).toBe(false);
  });
  it('rejects a stale timestamp (301 s old) and one from the future; accepts 299 s', () => {
    expect(
      verifyKieSignature({
        taskId: 'task_a',
        timestampHeader: ts,
        signatureHeader: sig,
        hmacKey: HMAC,
        nowMs: now + 301_000,
      }),
    ).toBe(false);
    expect(
      verifyKieSignature({
        taskId: 'task_a',
        timestampHeader: ts,
        signatureHeader: sig,
        hmacKey: HMAC,
        nowMs: now - 301_000,
      }),
    ).toBe(false);
    expect(
      verifyKieSignature({
        taskId: 'task_a',
        timestampHeader: ts,
        signatureHeader: sig,
        hmacKey: HMAC,
        nowMs: now + 299_000,
      }),
    ).toBe(true);
    expect(
      verifyKieSignature({
        taskId: 'task_a',
        timestampHeader: ts,
        signatureHeader: sig,
        hmacKey: HMAC,
        nowMs: now + 60_000,
        toleranceSec: 30,
      }),
    ).toBe(false);
  });
  it('rejects missing or garbled headers without throwing', () => {
    expect(
      verifyKieSignature({
        taskId: 'task_a',
        timestampHeader: undefined,
        signatureHeader: sig,
        hmacKey: HMAC,
        nowMs: now,
      }),
    ).toBe(false);
    expect(
      verifyKieSignature({ taskId: 'task_a', timestampHeader: ts, signatureHeader: null, hmacKey: HMAC, nowMs: now }),
    ).toBe(false);
    expect(
      verifyKieSignature({
        taskId: 'task_a',
        timestampHeader: 'yesterday',
        signatureHeader: sig,
        hmacKey: HMAC,
        nowMs: now,
      }),
    ).toBe(false);
    expect(
      verifyKieSignature({
        taskId: 'task_a',
        timestampHeader: ts,
        signatureHeader: 'short',
        hmacKey: HMAC,
        nowMs: now,
      }),
    ).toBe(false);
  });
});

describe('KIE rate limit: 20 creates per rolling 10 s', () => {
  it('the 21st create within 10 s is rejected with 429 (rate_limit, retryable, Retry-After) and creates nothing', async () => {
    const limited = await startSimulator({
      kie: { timing: { queuingAfterMs: 5, generatingAfterMs: 10, completeAfterMs: 20 } },
    });
    try {
      const c = new KieClient({ apiKey: 'sandbox-kie-key', baseUrl: limited.url, dispatcher });
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await c.createTask(input));
      const err = await rejectionOf(c.createTask(input));
      expect(err).toMatchObject({ code: '429', kind: 'rate_limit', retryable: true, httpStatus: 429 });
      expect((err as ProviderError).retryAfterMs).toBeGreaterThan(0);
      expect((err as ProviderError).retryAfterMs).toBeLessThanOrEqual(10_000);
      expect(limited.kie.createCount()).toBe(20);
      // Queries are free.
      await expect(c.recordInfo(ids[0]!)).resolves.toMatchObject({ taskId: ids[0] });
    } finally {
      await limited.stop();
    }
  });

  it('the window rolls: once the oldest create leaves it, a new one is admitted', async () => {
    const limited = await startSimulator({ kie: { rateLimit: { creates: 3, windowMs: 200 } } });
    try {
      const c = new KieClient({ apiKey: 'sandbox-kie-key', baseUrl: limited.url, dispatcher });
      for (let i = 0; i < 3; i++) await c.createTask(input);
      await expect(c.createTask(input)).rejects.toMatchObject({ code: '429' });
      await new Promise((r) => setTimeout(r, 230));
      await expect(c.createTask(input)).resolves.toMatch(/.+/);
    } finally {
      await limited.stop();
    }
  });
});

describe('KIE file upload', () => {
  it('uploadStream sends multipart file + uploadPath + fileName; downloadUrl serves the same bytes', async () => {
    const png = await readFile(join(fixturesDir, 'portrait-512x640.png'));
    const f = await client.uploadStream(png, 'portrait.png', 'clipwire/inputs');
    expect(f).toMatchObject({
      fileName: 'portrait.png',
      filePath: 'clipwire/inputs/portrait.png',
      fileSize: png.length,
      mimeType: 'image/png',
    });
    expect(sim.kie.lastRequest()).toMatchObject({
      path: '/api/file-stream-upload',
      body: {
        file: { fileName: 'portrait.png', size: png.length },
        uploadPath: 'clipwire/inputs',
        fileName: 'portrait.png',
      },
    });
    const res = await request(f.downloadUrl, { dispatcher });
    expect(res.headers['content-type']).toBe('image/png');
    expect(Buffer.from(await res.body.arrayBuffer()).equals(png)).toBe(true);
  });

  it('uploadBase64 accepts a data: URL; the stored file is the decoded bytes', async () => {
    const mp3 = await readFile(join(fixturesDir, 'speech-3s.mp3'));
    const f = await client.uploadBase64(
      `data:audio/mpeg;base64,${mp3.toString('base64')}`,
      'clipwire/inputs',
      'speech.mp3',
    );
    expect(f).toMatchObject({ fileName: 'speech.mp3', fileSize: mp3.length, mimeType: 'audio/mpeg' });
    expect(sim.kie.lastRequest()?.body).toMatchObject({ uploadPath: 'clipwire/inputs', fileName: 'speech.mp3' });
    const res = await request(f.downloadUrl, { dispatcher });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    expect(bytes.equals(mp3)).toBe(true);
    const meta = await parseBuffer(bytes, { mimeType: 'audio/mpeg' }, { duration: true });
    expect(meta.format.duration).toBeGreaterThan(2);
  });

  it('uploadFromUrl makes the simulator fetch the URL and store it', async () => {
    const wav = await readFile(join(mediaDir, 'sound-sample.wav'));
    const f = await client.uploadFromUrl(`${sim.url}/media/kling/sound-sample.wav`, 'clipwire/inputs');
    expect(sim.kie.lastRequest()?.body).toEqual({
      fileUrl: `${sim.url}/media/kling/sound-sample.wav`,
      uploadPath: 'clipwire/inputs',
    });
    expect(f).toMatchObject({ fileName: 'sound-sample.wav', fileSize: wav.length, mimeType: 'audio/wav' });
    const res = await request(f.downloadUrl, { dispatcher });
    expect(Buffer.from(await res.body.arrayBuffer()).equals(wav)).toBe(true);
  });

  it('a missing uploadPath or an unreachable fileUrl is a validation error (code 400); a wrong key is auth', async () => {
    await expect(client.uploadBase64('aGVsbG8=', '')).rejects.toMatchObject({
      code: '400',
      kind: 'validation',
      retryable: false,
    });
    await expect(client.uploadFromUrl('http://127.0.0.1:1/x.png', 'p')).rejects.toMatchObject({
      code: '400',
      kind: 'validation',
    });
    const bad = new KieClient({ apiKey: 'nope', uploadBaseUrl: sim.url, dispatcher });
    await expect(bad.uploadBase64('aGVsbG8=', 'p')).rejects.toMatchObject({ code: '401', kind: 'auth' });
  });
});

describe('KIE quirks (MockAgent)', () => {
  const origin = 'https://kie.mock';
  let mock: MockAgent;
  let mocked: KieClient;
  beforeAll(() => {
    mock = new MockAgent();
    mock.disableNetConnect();
    mocked = new KieClient({ apiKey: 'k', baseUrl: origin, dispatcher: mock });
  });
  afterAll(() => mock.close());
  const path = '/api/v1/jobs/recordInfo?taskId=t1';

  it('`msg` instead of `message`, param/resultJson as objects, numeric failCode, string costTime, second timestamps', async () => {
    mock
      .get(origin)
      .intercept({ path, method: 'GET' })
      .reply(200, {
        code: '200',
        msg: 'success',
        data: {
          taskId: 't1',
          model: 'infinitalk/from-audio',
          state: 'success',
          param: { input: { prompt: 'p' } },
          resultJson: { resultUrls: ['https://r/1.mp4', 7] },
          failCode: 0,
          failMsg: '',
          costTime: '2400',
          consumeCredits: '12',
          createTime: 1722769557,
          updateTime: '1722769560000',
          completeTime: 1722769560,
        },
      });
    const t = await mocked.recordInfo('t1');
    expect(t).toMatchObject({
      status: 'SUCCEEDED',
      param: { input: { prompt: 'p' } },
      resultUrls: ['https://r/1.mp4'],
      failCode: '0',
      failMsg: null,
      costTimeMs: 2400,
      consumeCredits: 12,
    });
    expect(t.createdAt?.getTime()).toBe(1722769557000);
    expect(t.updatedAt?.getTime()).toBe(1722769560000);
    expect(t.completedAt?.getTime()).toBe(1722769560000);
  });

  it('garbled param / resultJson strings become null / [] instead of throwing; unknown state is UNKNOWN', async () => {
    mock
      .get(origin)
      .intercept({ path, method: 'GET' })
      .reply(200, {
        code: 200,
        message: 'ok',
        data: { taskId: 't1', state: 'thinking', param: '{bad', resultJson: 'nope' },
      });
    const t = await mocked.recordInfo('t1');
    expect(t).toMatchObject({
      status: 'UNKNOWN',
      param: null,
      resultUrls: [],
      createdAt: null,
      costTimeMs: null,
      consumeCredits: null,
    });
  });

  it('an HTML 502 is a retryable upstream error; a 200 that is not JSON is a protocol error', async () => {
    mock
      .get(origin)
      .intercept({ path, method: 'GET' })
      .reply(502, '<html>bad gateway</html>', { headers: { 'retry-after': '4' } });
    await expect(mocked.recordInfo('t1')).rejects.toMatchObject({
      kind: 'upstream',
      retryable: true,
      httpStatus: 502,
      retryAfterMs: 4000,
    });
    mock.get(origin).intercept({ path, method: 'GET' }).reply(200, 'hello');
    await expect(mocked.recordInfo('t1')).rejects.toMatchObject({ kind: 'protocol', retryable: false });
  });

  it('code 200 without a taskId on create is a protocol error', async () => {
    mock
      .get(origin)
      .intercept({ path: '/api/v1/jobs/createTask', method: 'POST' })
      .reply(200, { code: 200, msg: 'success', data: {} });
    await expect(mocked.createTask(input)).rejects.toMatchObject({ kind: 'protocol' });
  });
});
