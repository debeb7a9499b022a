import { describe, expect, it } from 'vitest';
import { MB } from '../../src/media/limits.js';
import { checkDigitalHumanVoiceAudio } from '../../src/providers/digital-human/limits.js';
import { checkKieAudio, checkKieImage } from '../../src/providers/kie/limits.js';
import {
  checkKlingAvatarAudio,
  checkKlingAvatarImage,
  checkKlingVideoToAudioVideo,
} from '../../src/providers/kling/limits.js';
import { probeMedia, type MediaProbe } from '../../src/media/probe.js';
import { fixture } from './helpers.js';

const probe = (name: string) => probeMedia(fixture(name));
/** The first 4 KiB of a real file, standing for a bigger file of `totalSize` bytes. */
const probeAsIfSized = (name: string, totalSize: number) => probeMedia(fixture(name).subarray(0, 4096), { totalSize });

const IMG = ['input', 'image'];
const SOUND = ['input', 'soundFile'];
const VIDEO = ['input', 'videoUrl'];

describe('Kling avatar image', () => {
  it('accepts a 512×640 png and a 600×400 jpg', async () => {
    expect(checkKlingAvatarImage(await probe('portrait-512x640.png'), IMG)).toEqual([]);
    expect(checkKlingAvatarImage(await probe('landscape-600x400.jpg'), IMG)).toEqual([]);
  });

  it('refuses 200×200: names the field and the size', async () => {
    expect(checkKlingAvatarImage(await probe('small-200x200.png'), IMG)).toEqual([
      { path: IMG, message: 'image must be at least 300 px on each side (got 200×200)' },
    ]);
  });

  it('refuses 1000×300 (aspect 3.33:1)', async () => {
    expect(checkKlingAvatarImage(await probe('wide-1000x300.jpg'), IMG)).toEqual([
      { path: IMG, message: 'image aspect ratio must be between 1:2.5 and 2.5:1 (got 1000×300, 3.33:1)' },
    ]);
  });

  it('refuses a gif by its bytes', async () => {
    expect(checkKlingAvatarImage(await probe('square-400x400.gif'), IMG)).toEqual([
      { path: IMG, message: 'image must be jpg or png (got gif (image/gif))' },
    ]);
  });

  it('refuses webp', async () => {
    expect(checkKlingAvatarImage(await probe('portrait-400x500.webp'), IMG)).toEqual([
      { path: IMG, message: 'image must be jpg or png (got webp (image/webp))' },
    ]);
  });

  it('refuses over 10 MB (size from totalSize), accepts exactly 10 MB', async () => {
    expect(checkKlingAvatarImage(await probeAsIfSized('portrait-512x640.png', 10 * MB + 1), IMG)).toEqual([
      { path: IMG, message: 'image must be at most 10 MB (got 10485761 bytes)' },
    ]);
    expect(checkKlingAvatarImage(await probeAsIfSized('portrait-512x640.png', 10 * MB), IMG)).toEqual([]);
  });

  it('names the field from the last non-index path segment', async () => {
    const issues = checkKlingAvatarImage(await probe('small-200x200.png'), ['input', 'frames', '2']);
    expect(issues[0]).toEqual({
      path: ['input', 'frames', '2'],
      message: 'frames must be at least 300 px on each side (got 200×200)',
    });
  });
});

describe('KIE image (type and size only)', () => {
  it('accepts webp, and a 200×200 png (no documented dimension rule)', async () => {
    expect(checkKieImage(await probe('portrait-400x500.webp'), ['input', 'imageUrl'])).toEqual([]);
    expect(checkKieImage(await probe('small-200x200.png'), ['input', 'imageUrl'])).toEqual([]);
    expect(checkKieImage(await probe('wide-1000x300.jpg'), ['input', 'imageUrl'])).toEqual([]);
  });

  it('refuses gif and over 10 MB', async () => {
    expect(checkKieImage(await probe('square-400x400.gif'), ['input', 'imageUrl'])).toEqual([
      { path: ['input', 'imageUrl'], message: 'imageUrl must be jpeg, png or webp (got gif (image/gif))' },
    ]);
    expect(checkKieImage(await probeAsIfSized('portrait-400x500.webp', 11 * MB), ['input', 'imageUrl'])).toEqual([
      { path: ['input', 'imageUrl'], message: 'imageUrl must be at most 10 MB (got 11 MB)' },
    ]);
  });
});

describe('Kling avatar sound_file', () => {
  it('accepts 3 s wav, mp3 and m4a', async () => {
    expect(checkKlingAvatarAudio(await probe('tone-3s.wav'), SOUND)).toEqual([]);
    expect(checkKlingAvatarAudio(await probe('speech-3s.mp3'), SOUND)).toEqual([]);
    expect(checkKlingAvatarAudio(await probe('tone-3s.m4a'), SOUND)).toEqual([]);
  });

  it('refuses 1 s as too short', async () => {
    expect(checkKlingAvatarAudio(await probe('tone-1s.mp3'), SOUND)).toEqual([
      { path: SOUND, message: 'soundFile must be between 2 and 300 s long (got 1.15 s)' },
    ]);
  });

  it('refuses 301 s as too long', async () => {
    expect(checkKlingAvatarAudio(await probe('silence-301s.m4a'), SOUND)).toEqual([
      { path: SOUND, message: 'soundFile must be between 2 and 300 s long (got 301 s)' },
    ]);
  });

  it('refuses ogg', async () => {
    expect(checkKlingAvatarAudio(await probe('tone-3s.ogg'), SOUND)).toEqual([
      { path: SOUND, message: 'soundFile must be mp3, wav, m4a or aac (got ogg (audio/ogg))' },
    ]);
  });

  it('refuses 6 MB (size from totalSize)', async () => {
    const issues = checkKlingAvatarAudio(await probeAsIfSized('speech-3s.mp3', 6 * MB), SOUND);
    expect(issues).toContainEqual({ path: SOUND, message: 'soundFile must be at most 5 MB (got 6 MB)' });
  });

  it('says so when the duration could not be determined', async () => {
    const issues = checkKlingAvatarAudio(await probeAsIfSized('tone-3s.wav', 1 * MB), SOUND);
    expect(issues).toEqual([
      { path: SOUND, message: 'soundFile: could not determine the duration (must be between 2 and 300 s long)' },
    ]);
  });
});

describe('KIE audio (type and size only)', () => {
  it('accepts ogg, m4a, wav, mp3 and a 1 s file (no documented duration rule)', async () => {
    for (const f of ['tone-3s.ogg', 'tone-3s.m4a', 'tone-3s.wav', 'speech-3s.mp3', 'tone-1s.mp3']) {
      expect(checkKieAudio(await probe(f), ['input', 'audioUrl']), f).toEqual([]);
    }
  });

  it('accepts 6 MB, refuses over 10 MB', async () => {
    expect(checkKieAudio(await probeAsIfSized('speech-3s.mp3', 6 * MB), ['input', 'audioUrl'])).toEqual([]);
    expect(checkKieAudio(await probeAsIfSized('speech-3s.mp3', 10 * MB + 512 * 1024), ['input', 'audioUrl'])).toEqual([
      { path: ['input', 'audioUrl'], message: 'audioUrl must be at most 10 MB (got 10.5 MB)' },
    ]);
  });

  it('refuses a video file', async () => {
    expect(checkKieAudio(await probe('clip-4s.mkv'), ['input', 'audioUrl'])).toEqual([
      { path: ['input', 'audioUrl'], message: 'audioUrl must be mp3, wav, aac, m4a or ogg (got mkv (video/matroska))' },
    ]);
  });
});

describe('digital human create_voice audio', () => {
  const PATH = ['input', 'createVoice', 'audioUrl'];
  it('accepts 22 s', async () => {
    expect(checkDigitalHumanVoiceAudio(await probe('tone-22s.mp3'), PATH)).toEqual([]);
  });
  it('refuses 3 s (needs ≥ 20 s of speech)', async () => {
    expect(checkDigitalHumanVoiceAudio(await probe('speech-3s.mp3'), PATH)).toEqual([
      { path: PATH, message: 'audioUrl must be at least 20 s long (got 3.06 s)' },
    ]);
  });
});

describe('Kling video-to-audio video', () => {
  it('accepts 4 s mp4 and mov', async () => {
    expect(checkKlingVideoToAudioVideo(await probe('clip-4s.mp4'), VIDEO)).toEqual([]);
    expect(checkKlingVideoToAudioVideo(await probe('clip-4s.mov'), VIDEO)).toEqual([]);
  });

  it('refuses 2 s and 2.5 s as too short', async () => {
    expect(checkKlingVideoToAudioVideo(await probe('clip-2s.mp4'), VIDEO)).toEqual([
      { path: VIDEO, message: 'videoUrl must be between 3 and 20 s long (got 2 s)' },
    ]);
    const [issue] = checkKlingVideoToAudioVideo(await probe('avatar-sample-2.5s.mp4'), VIDEO);
    expect(issue?.message).toMatch(/^videoUrl must be between 3 and 20 s long \(got 2\.5\d* s\)$/);
  });

  it('refuses 21 s as too long', async () => {
    expect(checkKlingVideoToAudioVideo(await probe('clip-21s.mp4'), VIDEO)).toEqual([
      { path: VIDEO, message: 'videoUrl must be between 3 and 20 s long (got 21 s)' },
    ]);
  });

  it('refuses mkv', async () => {
    expect(checkKlingVideoToAudioVideo(await probe('clip-4s.mkv'), VIDEO)).toEqual([
      { path: VIDEO, message: 'videoUrl must be mp4 or mov (got mkv (video/matroska))' },
    ]);
  });

  it('refuses over 100 MB (size from totalSize; duration still read from the faststart prefix)', async () => {
    expect(checkKlingVideoToAudioVideo(await probeAsIfSized('clip-4s.mp4', 101 * MB), VIDEO)).toEqual([
      { path: VIDEO, message: 'videoUrl must be at most 100 MB (got 101 MB)' },
    ]);
  });
});

describe('truncated or corrupt files', () => {
  /** The first `n` bytes of a real file (n < 0: all but the last -n bytes), probed as the whole file. */
  const cut = (name: string, n: number) => probeMedia(fixture(name).subarray(0, n));

  it('refuses a PNG cut right after its header: names the field and says why', async () => {
    const p = await cut('portrait-512x640.png', 33);
    expect(p).toMatchObject({ width: 512, height: 640 }); // everything else about it reads fine
    expect(checkKlingAvatarImage(p, IMG)).toEqual([
      { path: IMG, message: 'image: the file is truncated or corrupt (the PNG ends before its IEND chunk)' },
    ]);
  });

  it('does not judge dimensions or duration read from a damaged file (only the damage is reported)', async () => {
    expect(checkKlingAvatarImage(await cut('small-200x200.png', 3000), IMG)).toEqual([
      {
        path: IMG,
        message: 'image: the file is truncated or corrupt (the PNG ends inside an IDAT chunk, before its IEND chunk)',
      },
    ]);
    const half = await cut('tone-3s.wav', 12039);
    expect(half.durationSeconds).toBeCloseTo(1.5, 1); // a cut WAV "lasts" less: too short for Kling
    expect(checkKlingAvatarAudio(half, SOUND)).toEqual([
      {
        path: SOUND,
        message:
          'soundFile: the file is truncated or corrupt (the WAV ends inside its data chunk (11961 of 24000 bytes))',
      },
    ]);
  });

  it('still reports the size next to the damage', async () => {
    const p = { ...(await cut('tone-3s.wav', 12039)), sizeBytes: 6 * MB };
    expect(checkKlingAvatarAudio(p, SOUND)).toEqual([
      { path: SOUND, message: 'soundFile must be at most 5 MB (got 6 MB)' },
      {
        path: SOUND,
        message:
          'soundFile: the file is truncated or corrupt (the WAV ends inside its data chunk (11961 of 24000 bytes))',
      },
    ]);
  });

  it('still reports a wrong type alone (type first)', async () => {
    expect(checkKlingAvatarImage(await cut('portrait-400x500.webp', 100), IMG)).toEqual([
      { path: IMG, message: 'image must be jpg or png (got webp (image/webp))' },
    ]);
  });

  const damagedOgg = () => {
    const b = Buffer.from(fixture('tone-3s.ogg'));
    b[4319]! ^= 0x01;
    return probeMedia(b);
  };

  // Every accepted type through the rules that accept it: the whole file passes, a damaged one is refused.
  const KIE_IMG = ['input', 'imageUrl'];
  const KIE_AUDIO = ['input', 'audioUrl'];
  const VOICE = ['input', 'createVoice', 'audioUrl'];
  const table: [string, typeof checkKieImage, string[], string, () => Promise<MediaProbe>, string][] = [
    [
      'Kling jpg',
      checkKlingAvatarImage,
      IMG,
      'landscape-600x400.jpg',
      () => cut('landscape-600x400.jpg', 6000),
      'the JPEG ends before its end-of-image marker (EOI)',
    ],
    [
      'KIE webp',
      checkKieImage,
      KIE_IMG,
      'portrait-400x500.webp',
      () => cut('portrait-400x500.webp', 30),
      'the WebP ends before the size its RIFF header declares (30 of 5588 bytes)',
    ],
    [
      'KIE png',
      checkKieImage,
      KIE_IMG,
      'small-200x200.png',
      () => cut('small-200x200.png', -1),
      'the PNG ends inside its IEND chunk',
    ],
    [
      'Kling mp3',
      checkKlingAvatarAudio,
      SOUND,
      'speech-3s.mp3',
      () => cut('speech-3s.mp3', 45 + 182),
      'the MP3 ends early (0 of the 117 audio frames its header declares)',
    ],
    [
      'Kling m4a',
      checkKlingAvatarAudio,
      SOUND,
      'tone-3s.m4a',
      () => cut('tone-3s.m4a', -100),
      'the M4A ends inside its moov box (763 of 863 bytes present)',
    ],
    [
      'Kling aac',
      checkKlingAvatarAudio,
      SOUND,
      'tone-3s.aac',
      () => cut('tone-3s.aac', 3352),
      'the AAC stream ends inside its last frame (56 of 256 bytes)',
    ],
    [
      'KIE ogg',
      checkKieAudio,
      KIE_AUDIO,
      'tone-3s.ogg',
      damagedOgg,
      "the Ogg file's page 4 (at byte 4219) fails its CRC check",
    ],
    [
      'KIE wav',
      checkKieAudio,
      KIE_AUDIO,
      'tone-3s.wav',
      () => cut('tone-3s.wav', 78),
      'the WAV ends inside its data chunk (0 of 24000 bytes)',
    ],
    [
      'voice mp3',
      checkDigitalHumanVoiceAudio,
      VOICE,
      'tone-22s.mp3',
      () => cut('tone-22s.mp3', 11218),
      'the MP3 ends inside its last audio frame (13 of 72 bytes)',
    ],
    [
      'Kling mp4',
      checkKlingVideoToAudioVideo,
      VIDEO,
      'clip-4s.mp4',
      () => cut('clip-4s.mp4', 32 + 1213),
      'the MP4 has no media data (mdat box)',
    ],
    [
      'Kling mov',
      checkKlingVideoToAudioVideo,
      VIDEO,
      'clip-4s.mov',
      () => cut('clip-4s.mov', 2777),
      'the MOV ends inside its mdat box (2749 of 4355 bytes present)',
    ],
  ];

  it.each(table)(
    '%s: the whole file passes, a damaged copy is refused with the reason',
    async (_n, check, path, whole, damaged, reason) => {
      expect(check(await probe(whole), path)).toEqual([]);
      const field = path.at(-1)!;
      expect(check(await damaged(), path)).toEqual([
        { path, message: `${field}: the file is truncated or corrupt (${reason})` },
      ]);
    },
  );

  it('FLAC (digital human voice): a cut file is refused for the damage, not for its (short) duration', async () => {
    const flac = await cut('tone-3s-libflac.flac', 12000);
    expect(checkDigitalHumanVoiceAudio(flac, VOICE)).toEqual([
      {
        path: VOICE,
        message: 'audioUrl: the file is truncated or corrupt (the FLAC ends inside its last audio frame)',
      },
    ]);
    // The whole 3 s file is intact and refused only for being shorter than 20 s.
    expect(checkDigitalHumanVoiceAudio(await probe('tone-3s-libflac.flac'), VOICE)).toEqual([
      { path: VOICE, message: 'audioUrl must be at least 20 s long (got 3 s)' },
    ]);
  });

  it('does not call a prefix probed for its size corrupt', async () => {
    const p = await probeAsIfSized('portrait-512x640.png', 20 * MB);
    expect(p.intact).toBeUndefined();
    expect(checkKlingAvatarImage(p, IMG)).toEqual([{ path: IMG, message: 'image must be at most 10 MB (got 20 MB)' }]);
  });
});
