import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request, type Dispatcher } from 'undici';
import { parseBuffer } from 'music-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpDispatcher } from '../src/index.js';
import { fixturesDir, mediaDir, startSimulator, type Simulator } from '../src/simulator/index.js';

let sim: Simulator;
let dispatcher: Dispatcher;
const auth = { authorization: 'Bearer sandbox-kling-key' };

beforeAll(async () => {
  // Wire-format and media tests: placeholder input URLs, not downloaded.
  sim = await startSimulator({
    kling: { timing: { processingAfterMs: 100, succeedAfterMs: 250 }, fetchInputs: false },
  });
  dispatcher = createHttpDispatcher();
});
afterAll(async () => {
  await sim.stop();
  await dispatcher.close();
});

async function post(body: string, headers: Record<string, string> = auth) {
  const r = await request(`${sim.url}/v1/videos/avatar/image2video`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    dispatcher,
  });
  return {
    status: r.statusCode,
    body: (await r.body.json()) as {
      code: number;
      message: string;
      request_id: string;
      data?: Record<string, unknown>;
    },
  };
}

describe('simulator: Kling avatar wire format', () => {
  it('create answers in Kling field names: {code:0, message, request_id, data:{task_id, task_info, task_status, created_at, updated_at}}', async () => {
    const r = await post(
      JSON.stringify({
        image: 'https://a/i.png',
        sound_file: 'https://a/s.mp3',
        external_task_id: 'wire-1',
        watermark_info: { enabled: true },
      }),
    );
    expect(r.status).toBe(200);
    expect(r.body.code).toBe(0);
    expect(Object.keys(r.body.data!).sort()).toEqual([
      'created_at',
      'task_id',
      'task_info',
      'task_status',
      'updated_at',
    ]);
    expect(r.body.data).toMatchObject({
      task_status: 'submitted',
      task_info: { external_task_id: 'wire-1' },
      created_at: expect.any(Number),
    });
  });

  it('malformed JSON → HTTP 400 code 1200', async () => {
    const r = await post('{"image":');
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(1200);
  });

  it('list with an out-of-range pageSize → 1201 naming pageSize; pageNum too', async () => {
    const a = await request(`${sim.url}/v1/videos/avatar/image2video?pageSize=501`, { headers: auth, dispatcher });
    const aBody = (await a.body.json()) as { code: number; message: string };
    expect(a.statusCode).toBe(400);
    expect(aBody.code).toBe(1201);
    expect(aBody.message).toContain('pageSize');
    const b = await request(`${sim.url}/v1/videos/avatar/image2video?pageNum=0`, { headers: auth, dispatcher });
    expect(((await b.body.json()) as { message: string }).message).toContain('pageNum');
  });

  it('an unknown path is 404 code 1202', async () => {
    const r = await request(`${sim.url}/v1/nothing-here`, { headers: auth, dispatcher });
    expect(r.statusCode).toBe(404);
    expect(((await r.body.json()) as { code: number }).code).toBe(1202);
  });
});

describe('simulator: media', () => {
  it('serves the sample mp4 with Content-Type and Content-Length equal to the committed file', async () => {
    const file = await readFile(join(mediaDir, 'avatar-sample.mp4'));
    const r = await request(`${sim.url}/media/kling/avatar-sample.mp4`, { dispatcher });
    const bytes = Buffer.from(await r.body.arrayBuffer());
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('video/mp4');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(Number(r.headers['content-length'])).toBe(file.length);
    expect(bytes.equals(file)).toBe(true);
    expect(file.length).toBeLessThan(150 * 1024);
  });

  it('answers Range requests with 206 and the exact slice; unsatisfiable ranges with 416', async () => {
    const file = await readFile(join(mediaDir, 'avatar-sample.mp4'));
    const r = await request(`${sim.url}/media/kling/avatar-sample.mp4`, {
      headers: { range: 'bytes=100-199' },
      dispatcher,
    });
    const bytes = Buffer.from(await r.body.arrayBuffer());
    expect(r.statusCode).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-199/${file.length}`);
    expect(bytes.equals(file.subarray(100, 200))).toBe(true);
    const tail = await request(`${sim.url}/media/kling/avatar-sample.mp4`, {
      headers: { range: 'bytes=-10' },
      dispatcher,
    });
    expect(Buffer.from(await tail.body.arrayBuffer()).equals(file.subarray(file.length - 10))).toBe(true);
    const bad = await request(`${sim.url}/media/kling/avatar-sample.mp4`, {
      headers: { range: `bytes=${file.length + 5}-` },
      dispatcher,
    });
    await bad.body.dump();
    expect(bad.statusCode).toBe(416);
  });

  it('does not serve files outside the media whitelist', async () => {
    const r = await request(`${sim.url}/media/kling/..%2Fpackage.json`, { dispatcher });
    await r.body.dump();
    expect(r.statusCode).toBe(404);
  });

  it('input fixtures are real files: a PNG of 512x640 and an mp3', async () => {
    const png = await readFile(join(fixturesDir, 'portrait-512x640.png'));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(512);
    expect(png.readUInt32BE(20)).toBe(640);
    const mp3 = await readFile(join(fixturesDir, 'speech-3s.mp3'));
    expect(mp3.subarray(0, 3).toString('latin1')).toBe('ID3');
  });
});

describe('simulator: one server for every provider', () => {
  it("unknown paths answer in the owning provider's shape: /api/* KIE, /avatar/* reseller, else Kling 1202", async () => {
    const kie = await request(`${sim.url}/api/v1/nothing`, { dispatcher });
    expect(kie.statusCode).toBe(404);
    expect(await kie.body.json()).toMatchObject({ code: 404, msg: expect.any(String) });
    const dh = await request(`${sim.url}/avatar/nothing`, { dispatcher });
    expect(dh.statusCode).toBe(404);
    expect(await dh.body.json()).toMatchObject({ code: 'not_found' });
    const kling = await request(`${sim.url}/v2/nothing`, { dispatcher });
    expect(await kling.body.json()).toMatchObject({ code: 1202 });
  });

  it.each([
    ['/media/kling/sound-sample.mp3', 'audio/mpeg', 'sound-sample.mp3'],
    ['/media/kling/sound-sample.wav', 'audio/wav', 'sound-sample.wav'],
    ['/media/kling/video-with-sound-sample.mp4', 'video/mp4', 'video-with-sound-sample.mp4'],
    ['/media/kie/avatar-sample.mp4', 'video/mp4', 'avatar-sample.mp4'],
    ['/media/dh/avatar-sample.mp4', 'video/mp4', 'avatar-sample.mp4'],
    ['/media/dh/avatar-sample-watermarked.mp4', 'video/mp4', 'avatar-sample-watermarked.mp4'],
  ])('serves %s as %s, byte-identical to the committed file (small)', async (path, type, file) => {
    const expected = await readFile(join(mediaDir, file));
    const r = await request(`${sim.url}${path}`, { dispatcher });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe(type);
    expect(Buffer.from(await r.body.arrayBuffer()).equals(expected)).toBe(true);
    expect(expected.length).toBeLessThan(100 * 1024);
  });

  it.each([
    ['/media/kling/avatar-sample-4000ms.mp4', 'video/mp4', 4],
    ['/media/kling/video-with-sound-sample-12345ms.mp4', 'video/mp4', 12.345],
    ['/media/kie/avatar-sample-7250ms.mp4', 'video/mp4', 7.25],
    ['/media/dh/avatar-sample-watermarked-2000ms.mp4', 'video/mp4', 2],
    ['/media/kling/sound-sample-5000ms.wav', 'audio/wav', 5],
    // An MP3 ends on a whole frame of 576 samples at 22.05 kHz.
    ['/media/kling/sound-sample-5000ms.mp3', 'audio/mpeg', (Math.round(5 / (576 / 22_050)) * 576) / 22_050],
  ])(
    'makes %s from its sample: %s lasting %d s (a valid file, the same bytes each time)',
    async (path, type, seconds) => {
      const get = async () => {
        const r = await request(`${sim.url}${path}`, { dispatcher });
        expect(r.statusCode).toBe(200);
        expect(r.headers['content-type']).toBe(type);
        return Buffer.from(await r.body.arrayBuffer());
      };
      const bytes = await get();
      const meta = await parseBuffer(bytes, { mimeType: type }, { duration: true });
      // music-metadata reads an MP4 from its mvhd, a WAV from its data size; an MP3 without a Xing header it estimates.
      expect(meta.format.duration).toBeCloseTo(seconds, type === 'audio/mpeg' ? 1 : 3);
      expect((await get()).equals(bytes)).toBe(true);
    },
  );

  it.each([
    '/media/kling/avatar-sample-600001ms.mp4', // longer than any documented input
    '/media/kling/avatar-sample-0ms.mp4',
    '/media/kie/sound-sample-3000ms.wav', // not a KIE output
    '/media/kling/portrait-3000ms.mp4',
  ])('answers 404 for %s', async (path) => {
    const r = await request(`${sim.url}${path}`, { dispatcher });
    await r.body.dump();
    expect(r.statusCode).toBe(404);
  });

  it("a create asking for an outcome that does not exist is refused in each provider's shape", async () => {
    const created = () => sim.kling.createCount() + sim.kie.createCount() + sim.digitalHuman.createCount();
    const before = created();
    const ask = (path: string, key: string, body: unknown) =>
      request(`${sim.url}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-sandbox-outcome': 'EXPLODE' },
        dispatcher,
      });
    const kling = await ask('/v1/videos/avatar/image2video', 'sandbox-kling-key', {
      image: 'https://example.com/p.png',
      audio_id: 'a',
    });
    expect(kling.statusCode).toBe(400);
    expect(await kling.body.json()).toMatchObject({ code: 1201, message: expect.stringMatching(/x-sandbox-outcome/) });
    const kie = await ask('/api/v1/jobs/createTask', 'sandbox-kie-key', {
      model: 'infinitalk/from-audio',
      input: { image_url: 'https://example.com/p.png', audio_url: 'https://example.com/a.mp3', prompt: 'p' },
    });
    expect(await kie.body.json()).toMatchObject({ code: 422 });
    const dh = await ask('/avatar/generation', 'sandbox-dh-key', {
      avatar_url: 'https://example.com/p.png',
      audio_url: 'https://example.com/a.mp3',
    });
    expect(dh.statusCode).toBe(400);
    expect(await dh.body.json()).toMatchObject({ code: 'invalid_request' });
    expect(created()).toBe(before);
  });

  it('each provider accepts only its own key', async () => {
    const kieWithKlingKey = await request(`${sim.url}/api/v1/jobs/recordInfo?taskId=x`, { headers: auth, dispatcher });
    expect(((await kieWithKlingKey.body.json()) as { code: number }).code).toBe(401);
    const dhWithKieKey = await request(`${sim.url}/avatar/task/x`, {
      headers: { authorization: 'Bearer sandbox-kie-key' },
      dispatcher,
    });
    expect(dhWithKieKey.statusCode).toBe(401);
    await dhWithKieKey.body.dump();
    const klingWithDhKey = await request(`${sim.url}/v1/audio/video-to-audio`, {
      headers: { authorization: 'Bearer sandbox-dh-key' },
      dispatcher,
    });
    expect(((await klingWithDhKey.body.json()) as { code: number }).code).toBe(1002);
  });
});
