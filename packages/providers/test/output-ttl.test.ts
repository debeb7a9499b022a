import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { waitFor } from './helpers.js';

/** SIMULATOR_OUTPUT_TTL_S: output links work for their lifetime after the task finished, then answer 410 Gone. */
let sim: Simulator;
const auth = { authorization: 'Bearer sandbox-kling-key', 'content-type': 'application/json' };

beforeAll(async () => {
  sim = await startSimulator({
    kling: { apiKey: 'sandbox-kling-key', timing: { processingAfterMs: 50, succeedAfterMs: 100 }, fetchInputs: false },
    outputTtlSeconds: 1.5,
  });
});
afterAll(() => sim.stop());

async function succeededVideo(): Promise<{ url: string; watermark_url: string; finishedAt: number }> {
  const created = await request(`${sim.url}/v1/videos/avatar/image2video`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      image: 'https://a/i.png',
      sound_file: 'https://a/s.mp3',
      watermark_info: { enabled: true },
    }),
  });
  const { data } = (await created.body.json()) as { data: { task_id: string } };
  return waitFor(async () => {
    const r = await request(`${sim.url}/v1/videos/avatar/image2video/${data.task_id}`, { headers: auth });
    const body = (await r.body.json()) as { data: Record<string, any> };
    if (body.data.task_status !== 'succeed') return undefined;
    return { ...body.data.task_result.videos[0], finishedAt: body.data.updated_at };
  }, 5000);
}

describe('simulator: outputs expire (outputTtlSeconds)', () => {
  it('serves a signed output link until its lifetime after the task finished, then answers 410 Gone', async () => {
    const video = await succeededVideo();
    expect(video.url).toMatch(/\/media\/kling\/avatar-sample\.mp4\?expires=\d+&signature=/);
    const expires = Number(new URL(video.url).searchParams.get('expires'));
    expect(expires).toBe(video.finishedAt + 1500);
    const fresh = await request(video.url, { headers: { range: 'bytes=0-7' } });
    expect(fresh.statusCode).toBe(206);
    expect((await fresh.body.arrayBuffer()).byteLength).toBe(8);
    // Without its signature the link is not a way around the expiry.
    const unsigned = await request(video.url.split('?')[0]!);
    expect(unsigned.statusCode).toBe(403);
    await unsigned.body.dump();
    const forged = await request(video.url.replace(/expires=\d+/, `expires=${expires + 3_600_000}`));
    expect(forged.statusCode).toBe(403);
    await forged.body.dump();

    const gone = await waitFor(async () => {
      const r = await request(video.watermark_url);
      const body = (await r.body.json().catch(() => null)) as { error?: string } | null;
      return r.statusCode === 410 ? body : undefined;
    }, 5000);
    expect(Date.now()).toBeGreaterThanOrEqual(expires);
    expect(gone?.error).toMatch(/expired/);
  });
});
