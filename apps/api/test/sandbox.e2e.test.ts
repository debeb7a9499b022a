import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeMedia } from '../src/media/probe.js';
import { CREATE_AVATAR, CREATE_SOUND, fixture, startStack, type Stack } from './support/stack.js';
import { ENGINE_ONLY } from './resilience/resilience-support.js';
import { writeWavHeader } from './media/helpers.js';

/*
 * The sandbox behaves like the real thing: outputs as long as their inputs (so a chained flow that
 * works live works in the sandbox), and outcomes on demand — FAIL, SLOW, LOST_CALLBACK — through the
 * whole stack (GraphQL → engine → simulator over HTTP → callbacks or polls), refused when the
 * provider is LIVE.
 */

let stack: Stack;
beforeAll(async () => {
  // Kling tasks are read back after 1 s without callbacks (instead of 5 s): LOST_CALLBACK ends by polling.
  // The simulator's own behaviour is under test: its links stay the outputs' links (no archive copy,
  // which test/outputs/ covers), so a chained task reads the simulator's file.
  stack = await startStack({ engine: { callbackGraceMs: 1000 }, env: { ...ENGINE_ONLY } });
});
afterAll(() => stack?.stop());

const FIELDS =
  'provider error { code message providerCode } input videos { id url durationSeconds } audios { mp3Url wavUrl mp3DurationSeconds wavDurationSeconds } events { edges { node { status source occurredAt } } }';

const b64 = (bytes: Buffer) => ({ base64: bytes.toString('base64') });
const PORTRAIT = b64(fixture('portrait-512x640.png'));

/** A valid 8 kHz mono 16-bit WAV of `seconds` (a 440 Hz tone). */
function wav(seconds: number): Buffer {
  const frames = Math.round(seconds * 8000);
  const b = writeWavHeader(Buffer.alloc(44 + frames * 2), frames * 2);
  for (let i = 0; i < frames; i++)
    b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 44 + i * 2);
  return b;
}

/** Downloads an output and reads it as the API reads any media: its type, duration and integrity. */
async function probed(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return probeMedia(Buffer.from(await res.arrayBuffer()));
}

async function create(query: string, input: Record<string, unknown>) {
  const res = await stack.gql(query, { input });
  const result = res.data?.[query === CREATE_SOUND ? 'createVideoSound' : 'createAvatarVideo'];
  expect(result, JSON.stringify(res)).toMatchObject({ __typename: 'Task' });
  return result as { id: string };
}

const sources = (task: Record<string, any>) => task.events.edges.map((e: any) => e.node.source);
const at = (task: Record<string, any>, status: string) =>
  Date.parse(task.events.edges.find((e: any) => e.node.status === status).node.occurredAt);

describe('outputs as long as their inputs', () => {
  it('a 4 s Kling avatar feeds video-to-audio (3–20 s) and the sound is as long as the video', async () => {
    const avatar = await stack.waitForFinal(
      (await create(CREATE_AVATAR, { image: PORTRAIT, audio: b64(wav(4)) })).id,
      FIELDS,
    );
    expect(avatar.status).toBe('SUCCEEDED');
    expect(avatar.videos[0].durationSeconds).toBe(4);
    const video = await probed(avatar.videos[0].url);
    expect(video).toMatchObject({ mime: 'video/mp4', durationSeconds: 4, intact: true });

    // The chained flow: the avatar video by URL, as a partner would pass it on.
    const sound = await stack.waitForFinal(
      (await create(CREATE_SOUND, { video: { url: avatar.videos[0].url }, bgmPrompt: 'calm' })).id,
      FIELDS,
    );
    expect(sound.status, JSON.stringify(sound.error)).toBe('SUCCEEDED');
    expect(sound.videos[0].durationSeconds).toBe(4);
    expect(sound.audios[0].wavDurationSeconds).toBe(4);
    // An MP3 ends on a whole frame (576 samples at 22.05 kHz: 26 ms).
    expect(Math.abs(sound.audios[0].mp3DurationSeconds - 4)).toBeLessThan(0.027);
    expect(await probed(sound.videos[0].url)).toMatchObject({ durationSeconds: 4, intact: true });
    expect(await probed(sound.audios[0].wavUrl)).toMatchObject({ mime: 'audio/wav', durationSeconds: 4, intact: true });
    const mp3 = await probed(sound.audios[0].mp3Url);
    expect(mp3).toMatchObject({ mime: 'audio/mpeg', intact: true });
    expect(Math.abs(mp3.durationSeconds! - 4)).toBeLessThan(0.06);
  });

  it('KIE and the digital human: the video is as long as its 6.5 s audio', async () => {
    const audio = b64(wav(6.5));
    const kie = await create(CREATE_AVATAR, { provider: 'KIE', image: PORTRAIT, audio, prompt: 'talk' });
    const dh = await create(CREATE_AVATAR, { provider: 'DIGITAL_HUMAN', image: PORTRAIT, audio });
    for (const id of [kie.id, dh.id]) {
      const task = await stack.waitForFinal(id, FIELDS);
      expect(task.status).toBe('SUCCEEDED');
      expect(await probed(task.videos[0].url)).toMatchObject({ durationSeconds: 6.5, intact: true });
    }
  });
});

describe('sandbox outcomes on demand', () => {
  it('FAIL: each provider fails the task its own way, with its code where it has one', async () => {
    const kling = await create(CREATE_AVATAR, { image: PORTRAIT, audio: b64(wav(3)), sandbox: { outcome: 'FAIL' } });
    const kie = await create(CREATE_AVATAR, {
      provider: 'KIE',
      image: PORTRAIT,
      audio: b64(wav(3)),
      prompt: 'talk',
      sandbox: { outcome: 'FAIL' },
    });
    const dh = await create(CREATE_AVATAR, {
      provider: 'DIGITAL_HUMAN',
      image: PORTRAIT,
      audio: b64(wav(3)),
      sandbox: { outcome: 'FAIL' },
    });
    const [k, i, d] = await Promise.all([kling, kie, dh].map((t) => stack.waitForFinal(t.id, FIELDS)));
    // Kling refuses the create with its content-safety code.
    expect(k).toMatchObject({ status: 'FAILED', error: { code: 'PROVIDER_POLICY', providerCode: '1301' } });
    expect(k!.error.message).toMatch(/sandbox outcome FAIL/);
    // KIE accepts it, then reports "generation failed" (failCode 501) in its callback.
    expect(i).toMatchObject({ status: 'FAILED', error: { providerCode: '501' } });
    expect(i!.error.message).toMatch(/sandbox outcome FAIL|Generation failed/);
    expect(sources(i!)).toContain('CALLBACK');
    // The reseller has no failure codes: its fail_reason is the message.
    expect(d).toMatchObject({ status: 'FAILED', error: { providerCode: null } });
    expect(d!.error.message).toBeTruthy();
    expect(k!.input.sandbox).toEqual({ outcome: 'FAIL' });
  });

  it('SLOW: the task finishes, 5 times later than it would (Kling avatar: 0.7 s → 3.5 s)', async () => {
    const slow = await create(CREATE_AVATAR, { image: PORTRAIT, audio: b64(wav(3)), sandbox: { outcome: 'SLOW' } });
    const task = await stack.waitForFinal(slow.id, FIELDS, 20_000);
    expect(task.status).toBe('SUCCEEDED');
    // The simulator ends it 3.5 s after its create; "submitted" is answered right after that create.
    expect(at(task, 'SUCCEEDED') - at(task, 'SUBMITTED')).toBeGreaterThanOrEqual(3000);
    expect(task.videos[0].durationSeconds).toBe(3);
  });

  it('LOST_CALLBACK: no callback arrives and polling finishes the task (Kling and KIE)', async () => {
    const kling = await create(CREATE_AVATAR, {
      image: PORTRAIT,
      audio: b64(wav(3)),
      sandbox: { outcome: 'LOST_CALLBACK' },
    });
    const kie = await create(CREATE_AVATAR, {
      provider: 'KIE',
      image: PORTRAIT,
      audio: b64(wav(3)),
      prompt: 'talk',
      sandbox: { outcome: 'LOST_CALLBACK' },
    });
    for (const { id } of [kling, kie]) {
      const task = await stack.waitForFinal(id, `${FIELDS} providerTaskId`);
      expect(task.status).toBe('SUCCEEDED');
      expect(sources(task)).not.toContain('CALLBACK');
      expect(sources(task).at(-1)).toBe('POLL');
      const sent = task.provider === 'KLING' ? stack.sim.kling.sentCallbacks() : stack.sim.kie.sentCallbacks();
      expect(sent.filter((c) => JSON.stringify(c).includes(task.providerTaskId))).toEqual([]);
    }
  });

  it('refusals name their field: LOST_CALLBACK for the digital human (no callbacks at all), an unknown outcome', async () => {
    const dh = await stack.gql(CREATE_AVATAR, {
      input: { provider: 'DIGITAL_HUMAN', image: PORTRAIT, audio: b64(wav(3)), sandbox: { outcome: 'LOST_CALLBACK' } },
    });
    expect(dh.data!.createAvatarVideo.__typename).toBe('ValidationError');
    expect(dh.data!.createAvatarVideo.issues).toEqual([
      { path: ['input', 'sandbox', 'outcome'], message: expect.stringMatching(/sends no callbacks/) },
    ]);
    const unknown = await stack.gql(CREATE_AVATAR, {
      input: { image: PORTRAIT, audio: b64(wav(3)), sandbox: { outcome: 'EXPLODE' } },
    });
    expect(unknown.errors?.[0]?.message).toMatch(/SandboxOutcome/);
  });
});

describe('a LIVE provider', () => {
  it('refuses the sandbox input with a ValidationError on input.sandbox, and nothing is created', async () => {
    // KIE and Kling with credentials are LIVE (never reached here: the refusal comes first).
    const live = await startStack({ env: { KIE_API_KEY: 'live-kie-key', KLING_API_KEY: 'live-kling-key' } });
    try {
      const avatar = await live.gql(CREATE_AVATAR, {
        input: { provider: 'KIE', image: PORTRAIT, audio: b64(wav(3)), prompt: 'talk', sandbox: { outcome: 'FAIL' } },
      });
      expect(avatar.data!.createAvatarVideo).toEqual({
        __typename: 'ValidationError',
        message: expect.any(String),
        issues: [{ path: ['input', 'sandbox'], message: expect.stringMatching(/only in sandbox mode.*KIE is LIVE/) }],
      });
      const sound = await live.gql(CREATE_SOUND, {
        input: { videoId: 'v-1', sandbox: { outcome: 'SLOW' } },
      });
      expect(sound.data!.createVideoSound).toMatchObject({
        __typename: 'ValidationError',
        issues: [{ path: ['input', 'sandbox'], message: expect.stringMatching(/KLING is LIVE/) }],
      });
      const tasks = await live.gql('{ tasks(first: 10) { totalCount } }');
      expect(tasks.data!.tasks.totalCount).toBe(0);
      expect(live.sim.kie.requestCount() + live.sim.kling.requestCount()).toBe(0);
    } finally {
      await live.stop();
    }
  });
});
