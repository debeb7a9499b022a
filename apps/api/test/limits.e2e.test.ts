import { tasks as tasksTable } from '@clipwire/schema/tables';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, CREATE_SOUND, fixture, startStack, type Stack } from './support/stack.js';

/**
 * Every documented input limit, through the real mutation with real media: the answer is a
 * ValidationError whose issue names the field, and no provider saw a create.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const b64 = (name: string) => ({ base64: fixture(name).toString('base64') });
const portrait = b64('portrait-512x640.png');
const speech = b64('speech-3s.mp3');

/** The real bytes of `name`, padded with zeros to `size`: the type still reads from the header. */
function padded(name: string, size: number, type: string): Blob {
  const head = fixture(name);
  return new Blob([head, new Uint8Array(size - head.length)], { type });
}

/** Creates the providers saw, and the tasks written (a refused create writes none, so nothing can be sent later). */
async function creates(): Promise<string> {
  const sent = stack.sim.kling.createCount() + stack.sim.kie.createCount() + stack.sim.digitalHuman.createCount();
  const [tasks] = await stack.app.db.db.select({ n: count() }).from(tasksTable);
  return `sent ${sent}, tasks ${tasks!.n}`;
}

interface Case {
  name: string;
  mutation?: 'avatar' | 'sound';
  input: Record<string, unknown>;
  files?: Record<string, Blob>;
  path: string;
  message: RegExp;
}

const MB = 1024 * 1024;
const cases: Case[] = [
  // Kling avatar image: jpg/png, ≤ 10 MB, sides ≥ 300 px, aspect 1:2.5–2.5:1
  {
    name: 'Kling image under 300 px',
    input: { image: b64('small-200x200.png'), audio: speech },
    path: 'input.image',
    message: /image must be at least 300 px on each side \(got 200×200\)/,
  },
  {
    name: 'Kling image wider than 2.5:1',
    input: { image: b64('wide-1000x300.jpg'), audio: speech },
    path: 'input.image',
    message: /image.*aspect/i,
  },
  {
    name: 'Kling image as gif',
    input: { image: b64('square-400x400.gif'), audio: speech },
    path: 'input.image',
    message: /image must be .*jpg.*png/i,
  },
  {
    name: 'Kling image as webp',
    input: { image: b64('portrait-400x500.webp'), audio: speech },
    path: 'input.image',
    message: /image must be .*jpg.*png/i,
  },
  {
    name: 'Kling image over 10 MB',
    input: { image: { file: null }, audio: speech },
    files: { 'input.image.file': padded('portrait-512x640.png', 10 * MB + 1, 'image/png') },
    path: 'input.image',
    message: /image must be at most 10 MB/,
  },
  // Kling avatar sound_file: mp3/wav/m4a/aac, ≤ 5 MB, 2–300 s
  {
    name: 'Kling audio shorter than 2 s',
    input: { image: portrait, audio: b64('tone-1s.mp3') },
    path: 'input.audio',
    message: /audio must be between 2 and 300 s long/,
  },
  {
    name: 'Kling audio longer than 300 s',
    input: { image: portrait, audio: b64('silence-301s.m4a') },
    path: 'input.audio',
    message: /audio must be between 2 and 300 s long/,
  },
  {
    name: 'Kling audio as ogg',
    input: { image: portrait, audio: b64('tone-3s.ogg') },
    path: 'input.audio',
    message: /audio must be .*mp3/i,
  },
  {
    name: 'Kling audio over 5 MB',
    input: { image: portrait, audio: { file: null } },
    files: { 'input.audio.file': padded('tone-3s.wav', 5 * MB + 1, 'audio/wav') },
    path: 'input.audio',
    message: /audio must be at most 5 MB/,
  },
  // Kling prompt ≤ 2500; exactly one of audio / audioId
  {
    name: 'Kling prompt over 2500 characters',
    input: { image: portrait, audio: speech, prompt: 'x'.repeat(2501) },
    path: 'input.prompt',
    message: /2500/,
  },
  {
    name: 'Kling with both audio and audioId',
    input: { image: portrait, audio: speech, kling: { audioId: 'tts-1' } },
    path: 'input.audio',
    message: /only one of audio or kling.audioId/,
  },
  {
    name: 'Kling with neither audio nor audioId',
    input: { image: portrait },
    path: 'input.audio',
    message: /give one of audio or kling.audioId/,
  },
  // KIE: image jpeg/png/webp ≤ 10 MB, audio ≤ 10 MB, prompt required ≤ 5000, seed 10000–1000000
  {
    name: 'KIE image as gif',
    input: { provider: 'KIE', image: b64('square-400x400.gif'), audio: speech, prompt: 'p' },
    path: 'input.image',
    message: /image must be .*webp/i,
  },
  {
    name: 'KIE audio over 10 MB',
    input: { provider: 'KIE', image: portrait, audio: { file: null }, prompt: 'p' },
    files: { 'input.audio.file': padded('tone-3s.wav', 10 * MB + 1, 'audio/wav') },
    path: 'input.audio',
    message: /audio must be at most 10 MB/,
  },
  {
    name: 'KIE without a prompt',
    input: { provider: 'KIE', image: portrait, audio: speech },
    path: 'input.prompt',
    message: /required/,
  },
  {
    name: 'KIE prompt over 5000 characters',
    input: { provider: 'KIE', image: portrait, audio: speech, prompt: 'x'.repeat(5001) },
    path: 'input.prompt',
    message: /5000/,
  },
  {
    name: 'KIE seed under 10000',
    input: { provider: 'KIE', image: portrait, audio: speech, prompt: 'p', kie: { seed: 9999 } },
    path: 'input.kie.seed',
    message: /between 10000 and 1000000/,
  },
  {
    name: 'KIE seed over 1000000',
    input: { provider: 'KIE', image: portrait, audio: speech, prompt: 'p', kie: { seed: 1_000_001 } },
    path: 'input.kie.seed',
    message: /between 10000 and 1000000/,
  },
  // Digital human: one avatar, one voice form; a cloned voice needs ≥ 20 s of speech
  {
    name: 'digital human voice clone from under 20 s',
    input: {
      provider: 'DIGITAL_HUMAN',
      image: portrait,
      digitalHuman: { cloneVoice: { audio: speech, language: 'en', text: 'hi' } },
    },
    path: 'input.digitalHuman.cloneVoice.audio',
    message: /at least 20 s/,
  },
  {
    name: 'digital human with two voices',
    input: {
      provider: 'DIGITAL_HUMAN',
      image: portrait,
      audio: speech,
      digitalHuman: { stockVoice: { voiceEngineId: 'e', audioId: 'a', language: 'en', text: 'hi' } },
    },
    path: 'input.audio',
    message: /only one of/,
  },
  {
    name: 'digital human with image and video',
    input: { provider: 'DIGITAL_HUMAN', image: portrait, video: b64('clip-4s.mp4'), audio: speech },
    path: 'input.image',
    message: /only one of image or video/,
  },
  // Kling video-to-audio: mp4/mov ≤ 100 MB, 3–20 s, prompts ≤ 200, exactly one of video / videoId
  {
    name: 'video shorter than 3 s',
    mutation: 'sound',
    input: { video: b64('clip-2s.mp4') },
    path: 'input.video',
    message: /video must be between 3 and 20 s long/,
  },
  {
    name: 'video longer than 20 s',
    mutation: 'sound',
    input: { video: b64('clip-21s.mp4') },
    path: 'input.video',
    message: /video must be between 3 and 20 s long/,
  },
  {
    name: 'video as mkv',
    mutation: 'sound',
    input: { video: b64('clip-4s.mkv') },
    path: 'input.video',
    message: /video must be .*mp4/i,
  },
  {
    name: 'video over 100 MB',
    mutation: 'sound',
    input: { video: { file: null } },
    files: { 'input.video.file': padded('clip-4s.mp4', 100 * MB + 1, 'video/mp4') },
    path: 'input.video',
    message: /video must be at most 100 MB/,
  },
  {
    name: 'sound-effect prompt over 200 characters',
    mutation: 'sound',
    input: { videoId: 'v1', soundEffectPrompt: 'x'.repeat(201) },
    path: 'input.soundEffectPrompt',
    message: /200/,
  },
  {
    name: 'music prompt over 200 characters',
    mutation: 'sound',
    input: { videoId: 'v1', bgmPrompt: 'x'.repeat(201) },
    path: 'input.bgmPrompt',
    message: /200/,
  },
  {
    name: 'both video and videoId',
    mutation: 'sound',
    input: { videoId: 'v1', video: b64('clip-4s.mp4') },
    path: 'input.video',
    message: /only one of video or videoId/,
  },
];

describe('documented input limits', () => {
  it.each(cases)('$name: refused naming $path, nothing sent upstream', async (c) => {
    const before = await creates();
    const query = c.mutation === 'sound' ? CREATE_SOUND : CREATE_AVATAR;
    const res = c.files
      ? await stack.upload(query, { input: c.input }, c.files)
      : await stack.gql(query, { input: c.input });
    const result = res.data?.[c.mutation === 'sound' ? 'createVideoSound' : 'createAvatarVideo'];
    expect(result?.__typename, JSON.stringify(res)).toBe('ValidationError');
    const issue = result.issues.find((i: { path: string[] }) => i.path.join('.').startsWith(c.path));
    expect(issue, JSON.stringify(result.issues)).toBeDefined();
    expect(issue.message).toMatch(c.message);
    expect(await creates()).toBe(before);
  });

  it('accepts media exactly at the limits (webp for KIE, a 3 s mp4 video, a 22 s clone voice)', async () => {
    const kie = await stack.gql(CREATE_AVATAR, {
      input: {
        provider: 'KIE',
        image: b64('portrait-400x500.webp'),
        audio: speech,
        prompt: 'p',
        kie: { seed: 10_000 },
      },
    });
    expect(kie.data!.createAvatarVideo.__typename).toBe('Task');
    const sound = await stack.gql(CREATE_SOUND, { input: { video: b64('clip-4s.mov') } });
    expect(sound.data!.createVideoSound.__typename).toBe('Task');
    const dh = await stack.gql(CREATE_AVATAR, {
      input: {
        provider: 'DIGITAL_HUMAN',
        image: portrait,
        digitalHuman: { cloneVoice: { audio: b64('tone-22s.mp3'), language: 'en', text: 'hi' } },
      },
    });
    expect(dh.data!.createAvatarVideo.__typename).toBe('Task');
  });
});
