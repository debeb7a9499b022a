import { parseBuffer } from 'music-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, CREATE_SOUND, fixture, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const OUTPUTS =
  'provider kind model error { code message providerCode } videos { url watermarkUrl durationSeconds } audios { mp3Url wavUrl mp3DurationSeconds wavDurationSeconds } events { edges { node { status source } } }';

const b64 = (name: string) => ({ base64: fixture(name).toString('base64') });

/** Downloads a media URL and reads its duration from the bytes. */
async function playable(url: string, mimeType: string): Promise<number> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const meta = await parseBuffer(Buffer.from(await res.arrayBuffer()), { mimeType });
  return meta.format.duration ?? 0;
}

describe('every provider and capability through GraphQL', () => {
  it('KIE: base64 inputs are stored, served to the simulator at signed /media links, and the task succeeds with a playable video', async () => {
    const created = await stack.gql(CREATE_AVATAR, {
      input: {
        provider: 'KIE',
        image: b64('portrait-400x500.webp'),
        audio: b64('speech-3s.mp3'),
        prompt: 'a calm newsreader',
        kie: { resolution: 'RES_720P', seed: 424242 },
      },
    });
    const task = created.data!.createAvatarVideo;
    expect(task.__typename).toBe('Task');
    const final = await stack.waitForFinal(task.id, OUTPUTS);
    expect(final).toMatchObject({
      status: 'SUCCEEDED',
      provider: 'KIE',
      model: 'infinitalk/from-audio-720p',
      error: null,
    });
    expect(await playable(final.videos[0].url, 'video/mp4')).toBeGreaterThan(1);

    // KIE downloaded both inputs from our signed /media links, and called back on our route.
    const fetched = stack.sim.kie.inputFetches().filter((f) => f.url.startsWith(`${stack.url}/media/`));
    expect(fetched.map((f) => [f.status, f.bytes, f.contentType])).toEqual([
      [200, fixture('portrait-400x500.webp').length, 'image/webp'],
      [200, fixture('speech-3s.mp3').length, 'audio/mpeg'],
    ]);
    expect(fetched.every((f) => /\?exp=\d+&sig=[\w-]+$/.test(f.url))).toBe(true);
    expect(stack.sim.kie.sentCallbacks().some((c) => c.url.startsWith(`${stack.url}/callbacks/kie/`))).toBe(true);
  });

  it('DIGITAL_HUMAN: the three body forms reach SUCCEEDED by polling alone (the reseller has no callbacks)', async () => {
    const forms = [
      { image: b64('portrait-512x640.png'), audio: b64('speech-3s.mp3'), digitalHuman: { noWatermark: true } },
      {
        image: b64('portrait-512x640.png'),
        digitalHuman: { cloneVoice: { audio: b64('tone-22s.mp3'), language: 'en', text: 'Hello there' } },
      },
      {
        video: b64('clip-4s.mp4'),
        digitalHuman: { stockVoice: { voiceEngineId: 'engine-1', audioId: 'voice-7', language: 'cn', text: '你好' } },
      },
    ];
    const models = [];
    for (const form of forms) {
      const created = await stack.gql(CREATE_AVATAR, { input: { provider: 'DIGITAL_HUMAN', ...form } });
      const task = created.data!.createAvatarVideo;
      expect(task, JSON.stringify(created)).toMatchObject({ __typename: 'Task' });
      const final = await stack.waitForFinal(task.id, OUTPUTS);
      expect(final.status).toBe('SUCCEEDED');
      const sources = final.events.edges.map((e: any) => e.node.source);
      expect(sources).not.toContain('CALLBACK');
      expect(sources).toContain('POLL');
      // As long as its speech: the 3.056 s recording; a short text said by a cloned or stock voice, 1 s.
      expect(await playable(final.videos[0].url, 'video/mp4')).toBeCloseTo(models.length === 0 ? 3.056 : 1, 1);
      models.push(final.model);
    }
    expect(models).toEqual(['digital-human-audio', 'digital-human-clone', 'digital-human-stock']);
  });

  it('KLING video-to-audio: a video by URL and one uploaded as a file both end with playable mp3 and wav tracks', async () => {
    const byUrl = await stack.gql(CREATE_SOUND, {
      input: {
        video: { url: `${stack.sim.url}/media/kling/video-with-sound-sample.mp4` },
        soundEffectPrompt: 'rain on a tin roof',
        bgmPrompt: 'soft piano',
        asmrMode: true,
        externalTaskId: 'sound-url',
      },
    });
    const uploaded = await stack.upload(
      CREATE_SOUND,
      { input: { video: { file: null }, externalTaskId: 'sound-file' } },
      { 'input.video.file': new Blob([fixture('clip-4s.mp4')], { type: 'video/mp4' }) },
    );
    for (const created of [byUrl, uploaded]) {
      const task = created.data!.createVideoSound;
      expect(task, JSON.stringify(created)).toMatchObject({
        __typename: 'Task',
        kind: 'VIDEO_SOUND',
        provider: 'KLING',
      });
      const final = await stack.waitForFinal(task.id, OUTPUTS);
      expect(final.status).toBe('SUCCEEDED');
      const [audio] = final.audios;
      expect(audio.mp3DurationSeconds).toBeGreaterThan(0);
      expect(await playable(audio.mp3Url, 'audio/mpeg')).toBeGreaterThan(1);
      expect(await playable(audio.wavUrl, 'audio/wav')).toBeGreaterThan(1);
      expect(await playable(final.videos[0].url, 'video/mp4')).toBeGreaterThan(1);
    }
  });

  it('KLING avatar: an uploaded portrait and speech file succeed', async () => {
    const created = await stack.upload(
      CREATE_AVATAR,
      { input: { image: { file: null }, audio: { file: null }, kling: { mode: 'PRO', watermark: true } } },
      {
        'input.image.file': new Blob([fixture('portrait-512x640.png')], { type: 'image/png' }),
        'input.audio.file': new Blob([fixture('speech-3s.mp3')], { type: 'audio/mpeg' }),
      },
    );
    const task = created.data!.createAvatarVideo;
    expect(task, JSON.stringify(created)).toMatchObject({ __typename: 'Task' });
    const final = await stack.waitForFinal(task.id, OUTPUTS);
    expect(final).toMatchObject({ status: 'SUCCEEDED', model: 'kling-avatar-pro' });
    expect(final.videos[0].watermarkUrl).toBeTruthy();
  });

  it('lists every provider with its mode, capabilities and whether it calls back', async () => {
    const res = await stack.gql('{ providers { provider configured mode capabilities callbacks } }');
    expect(res.data!.providers).toEqual([
      {
        provider: 'KLING',
        configured: true,
        mode: 'SANDBOX',
        capabilities: ['AVATAR_VIDEO', 'VIDEO_SOUND'],
        callbacks: true,
      },
      { provider: 'KIE', configured: true, mode: 'SANDBOX', capabilities: ['AVATAR_VIDEO'], callbacks: true },
      {
        provider: 'DIGITAL_HUMAN',
        configured: true,
        mode: 'SANDBOX',
        capabilities: ['AVATAR_VIDEO'],
        callbacks: false,
      },
    ]);
  });
});
