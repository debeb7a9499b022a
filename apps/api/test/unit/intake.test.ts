import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createSafeDispatcher } from '../../src/media/safe-fetch.js';
import { intakeAvatarVideo, intakeVideoSound, type IntakeEnv } from '../../src/tasks/intake.js';
import { writeWavHeader } from '../media/helpers.js';

/*
 * Intake in-process, without a server or a database: each provider's request built from the validated
 * input (uploads referenced as `{ upload: n }` until they are stored), media read from the bytes against
 * that provider's limits, and every refusal naming its field.
 * (The same rules through the real mutation: limits.e2e.test.ts.)
 */

const FIXTURES = join(import.meta.dirname, '..', 'media', 'fixtures');
const b64 = (name: string) => ({ base64: readFileSync(join(FIXTURES, name)).toString('base64') });

const env: IntakeEnv = {
  dispatcher: createSafeDispatcher(),
  fetchTimeoutMs: 1000,
  checkWebhookUrl: (url) => (url.startsWith('https://') ? null : 'must be an https:// URL'),
  providerMode: () => 'SANDBOX',
  defaultRoute: () => undefined,
};

async function issuesOf(run: Promise<unknown>): Promise<{ path: string; message: string }[]> {
  const error = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('intake: the request each provider is sent', () => {
  it('Kling avatar: image and sound kept as uploads, defaults filled, media elided from the shown input', async () => {
    const draft = await intakeAvatarVideo(
      { image: b64('portrait-512x640.png'), audio: b64('speech-3s.mp3'), prompt: 'smile', externalTaskId: 'e-1' },
      env,
    );
    expect(draft).toMatchObject({ kind: 'AVATAR_VIDEO', provider: 'KLING', model: 'kling-avatar-std' });
    expect(draft.externalTaskId).toBe('e-1');
    expect(draft.request).toEqual({
      image: { upload: 0 },
      sound: { upload: 1 },
      audioId: null,
      prompt: 'smile',
      mode: 'std',
      watermark: false,
    });
    expect(draft.uploads.map((u) => u.mime)).toEqual(['image/png', 'audio/mpeg']);
    expect(JSON.stringify(draft.input)).not.toContain(b64('portrait-512x640.png').base64.slice(0, 100));
  });

  it('Kling avatar with a TTS audio id: no sound upload', async () => {
    const draft = await intakeAvatarVideo(
      { image: b64('portrait-512x640.png'), kling: { audioId: 'tts-1', mode: 'pro' } },
      env,
    );
    expect(draft.model).toBe('kling-avatar-pro');
    expect(draft.request).toMatchObject({ sound: null, audioId: 'tts-1', mode: 'pro' });
    expect(draft.uploads).toHaveLength(1);
  });

  it('KIE avatar: prompt and resolution carried, seed null when not given', async () => {
    const draft = await intakeAvatarVideo(
      { provider: 'KIE', image: b64('portrait-400x500.webp'), audio: b64('speech-3s.mp3'), prompt: 'talk' },
      env,
    );
    expect(draft.model).toBe('infinitalk/from-audio-480p');
    expect(draft.request).toEqual({
      image: { upload: 0 },
      audio: { upload: 1 },
      prompt: 'talk',
      resolution: '480p',
      seed: null,
    });
  });

  it('Kling video sound: the video read against the video-to-audio limits', async () => {
    const draft = await intakeVideoSound({ video: b64('clip-4s.mp4'), bgmPrompt: 'calm' }, env);
    expect(draft).toMatchObject({ kind: 'VIDEO_SOUND', provider: 'KLING', model: 'kling-video-to-audio' });
    expect(draft.request).toMatchObject({
      video: { upload: 0 },
      videoId: null,
      bgmPrompt: 'calm',
    });
  });
});

describe('intake: refusals name their field', () => {
  it('a Kling prompt over 2500 characters and an invalid external id, reported together', async () => {
    const issues = await issuesOf(
      intakeAvatarVideo(
        {
          image: b64('portrait-512x640.png'),
          audio: b64('speech-3s.mp3'),
          prompt: 'x'.repeat(2501),
          externalTaskId: 'a b',
        },
        env,
      ),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(['input.externalTaskId', 'input.prompt']);
    expect(issues.find((i) => i.path === 'input.prompt')!.message).toMatch(/2500/);
  });

  it('media outside the provider limits: an image too small for Kling, audio as ogg', async () => {
    const issues = await issuesOf(
      intakeAvatarVideo({ image: b64('small-200x200.png'), audio: b64('tone-3s.ogg') }, env),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(['input.audio', 'input.image']);
    expect(issues.find((i) => i.path === 'input.audio')!.message).toMatch(/mp3/i);
  });

  it('a kind the provider does not offer: video sound from KIE', async () => {
    const issues = await issuesOf(intakeVideoSound({ provider: 'KIE', video: b64('clip-4s.mp4') }, env));
    expect(issues.map((i) => i.path)).toEqual(['input.provider']);
  });

  it('a webhook URL the policy refuses, before any media is read', async () => {
    const issues = await issuesOf(
      intakeAvatarVideo(
        { image: b64('portrait-512x640.png'), audio: b64('speech-3s.mp3'), webhookUrl: 'http://x.example' },
        env,
      ),
    );
    expect(issues).toEqual([{ path: 'input.webhookUrl', message: 'webhookUrl must be an https:// URL' }]);
  });

  it('digital human: "no watermark" with a cloned or a stock voice, which the reseller always watermarks', async () => {
    const voices = [
      { cloneVoice: { audio: b64('tone-22s.mp3'), language: 'en', text: 'Hello' } },
      { stockVoice: { voiceEngineId: 'nina', audioId: 'v-1', language: 'en', text: 'Hello' } },
    ];
    for (const voice of voices) {
      const issues = await issuesOf(
        intakeAvatarVideo(
          {
            provider: 'DIGITAL_HUMAN',
            image: b64('portrait-512x640.png'),
            digitalHuman: { ...voice, noWatermark: true },
          },
          env,
        ),
      );
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ path: 'input.digitalHuman.noWatermark' });
      expect(issues[0]!.message).toMatch(/only with audio/);
    }
    // With a driving recording it is taken and sent; false beside a voice is no request at all, and accepted.
    const clean = await intakeAvatarVideo(
      {
        provider: 'DIGITAL_HUMAN',
        image: b64('portrait-512x640.png'),
        audio: b64('speech-3s.mp3'),
        digitalHuman: { noWatermark: true },
      },
      env,
    );
    expect(clean.request).toMatchObject({ noWatermark: true, voice: { type: 'audio' } });
    const stock = await intakeAvatarVideo(
      {
        provider: 'DIGITAL_HUMAN',
        image: b64('portrait-512x640.png'),
        digitalHuman: { ...voices[1], noWatermark: false },
      },
      env,
    );
    expect(stock.request).toMatchObject({ noWatermark: false, voice: { type: 'stock' } });
  });

  it('digital human: an avatar and an audio each within 100 MB but over 100 MB together (the per-request limit)', async () => {
    const MiB = 1024 * 1024;
    const video = readFileSync(join(FIXTURES, 'clip-4s.mp4'));
    // A valid 8 kHz mono 16-bit WAV that fills the rest of the 100 MB and 2 bytes more.
    const pcm = 100 * MiB - video.length - 44 + 2;
    const wav = writeWavHeader(Buffer.alloc(44 + pcm), pcm);
    const input = { provider: 'DIGITAL_HUMAN', video: { base64: video.toString('base64') } };
    const issues = await issuesOf(intakeAvatarVideo({ ...input, audio: { base64: wav.toString('base64') } }, env));
    expect(issues).toEqual([
      { path: 'input.audio', message: expect.stringMatching(/together must be at most 100 MB/) },
    ]);
    // 4 bytes less and it fits.
    const fits = wav.subarray(0, wav.length - 4);
    fits.writeUInt32LE(36 + pcm - 4, 4);
    fits.writeUInt32LE(pcm - 4, 40);
    const draft = await intakeAvatarVideo({ ...input, audio: { base64: fits.toString('base64') } }, env);
    expect(draft.request).toMatchObject({ voice: { type: 'audio' } });
  });

  it('an empty file upload', async () => {
    const empty = new File([], 'empty.png', { type: 'image/png' });
    const issues = await issuesOf(intakeAvatarVideo({ image: { file: empty }, audio: b64('speech-3s.mp3') }, env));
    expect(issues).toEqual([{ path: 'input.image', message: 'image is empty' }]);
  });
});

describe('intake: the fingerprint that makes a repeated create recognisable', () => {
  const base = { image: b64('portrait-512x640.png'), audio: b64('speech-3s.mp3'), prompt: 'p' };
  const fingerprintOf = async (input: Record<string, unknown>) => (await intakeAvatarVideo(input, env)).fingerprint;

  it('is the same for the same input, whatever the externalTaskId or the way media are sent', async () => {
    const file = new File([readFileSync(join(FIXTURES, 'portrait-512x640.png'))], 'p.png', { type: 'image/png' });
    const first = await fingerprintOf(base);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await fingerprintOf({ ...base, externalTaskId: 'other' })).toBe(first);
    expect(await fingerprintOf({ ...base, image: { file } })).toBe(first); // the same bytes
  });

  it('differs when a media body, an option, the model or the webhook differs', async () => {
    const first = await fingerprintOf(base);
    const others = await Promise.all([
      fingerprintOf({ ...base, image: b64('portrait-400x500-progressive.jpg') }),
      fingerprintOf({ ...base, prompt: 'q' }),
      fingerprintOf({ ...base, kling: { mode: 'pro' } }),
      fingerprintOf({ ...base, webhookUrl: 'https://hooks.example.com/x' }),
    ]);
    expect(new Set([first, ...others]).size).toBe(5);
  });
});
