import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fixturesDir, mediaDir } from '@clipwire/providers/simulator';
import { describe, expect, it } from 'vitest';
import { checkIntegrity, jsChecksummedBytes } from '../../src/media/integrity.js';
import { probeMedia } from '../../src/media/probe.js';
import { FIXTURES, fixture } from './helpers.js';

const MEDIA = /\.(png|jpe?g|webp|gif|mp3|wav|aac|m4a|ogg|flac|mp4|mov|mkv)$/;
const files = (dir: string) =>
  readdirSync(dir)
    .filter((f) => MEDIA.test(f))
    .map((f) => join(dir, f));

/** Types without a walker: neither accepted nor refused by the integrity check. */
const UNCHECKED = new Set(['video/matroska']);

describe('every real encoder output is intact', () => {
  const all = [...files(FIXTURES), ...files(mediaDir), ...files(fixturesDir)];

  it('finds the fixtures and the simulator samples', () => {
    expect(all.length).toBeGreaterThanOrEqual(35);
    expect(all.some((f) => f.endsWith('sound-sample.wav'))).toBe(true);
  });

  const repo = join(FIXTURES, '../../../../..');
  it.each(all.map((f) => [relative(repo, f), f]))('%s', async (_name, path) => {
    const p = await probeMedia(readFileSync(path));
    if (UNCHECKED.has(p.mime)) {
      expect(p.intact).toBeUndefined();
      return;
    }
    expect(p.corruption).toBeUndefined();
    expect(p.intact).toBe(true);
  });
});

interface Case {
  file: string;
  /** Where the headers end: a cut there leaves a file whose type (often size and duration) still read. */
  header: number;
  headerMessage: string;
  halfMessage: string;
  /**
   * A byte inside checksummed data, and what flipping one of its bits gives. Ogg and FLAC: a byte
   * of the LAST page / frame, the only one whose checksum is verified.
   */
  corrupt?: { at: number; message: string };
  /** Its last bytes are an ID3v1 tag, not audio (cutting into the tag is tested separately). */
  endsWithTag?: true;
}

const cases: Case[] = [
  {
    file: 'portrait-512x640.png',
    header: 33, // signature + IHDR: dimensions read fine
    headerMessage: 'the PNG ends before its IEND chunk',
    halfMessage: 'the PNG ends inside an IDAT chunk, before its IEND chunk',
    corrupt: { at: 2100, message: "the PNG's IDAT chunk at byte 54 fails its CRC check" },
  },
  {
    file: 'small-200x200.png',
    header: 33,
    headerMessage: 'the PNG ends before its IEND chunk',
    halfMessage: 'the PNG ends inside an IDAT chunk, before its IEND chunk',
    corrupt: { at: 5000, message: "the PNG's IDAT chunk at byte 4162 fails its CRC check" }, // the second IDAT
  },
  {
    file: 'landscape-600x400.jpg',
    header: 321, // APP0, COM, DQT, DHT, SOF0, SOS: everything but the scan data
    headerMessage: 'the JPEG ends before its end-of-image marker (EOI)',
    halfMessage: 'the JPEG ends before its end-of-image marker (EOI)',
  },
  {
    file: 'portrait-400x500-progressive.jpg',
    header: 247, // the first of several scans begins
    headerMessage: 'the JPEG ends before its end-of-image marker (EOI)',
    halfMessage: 'the JPEG ends before its end-of-image marker (EOI)',
  },
  {
    file: 'portrait-400x500.webp',
    header: 30, // RIFF header, VP8 chunk header, VP8 frame header (dimensions)
    headerMessage: 'the WebP ends before the size its RIFF header declares (30 of 5588 bytes)',
    halfMessage: 'the WebP ends before the size its RIFF header declares (2794 of 5588 bytes)',
  },
  {
    file: 'portrait-400x500-lossless.webp',
    header: 25, // RIFF header, VP8L chunk header, VP8L header (dimensions)
    headerMessage: 'the WebP ends before the size its RIFF header declares (25 of 14414 bytes)',
    halfMessage: 'the WebP ends before the size its RIFF header declares (7207 of 14414 bytes)',
  },
  {
    file: 'portrait-400x500-alpha.webp',
    header: 63, // RIFF, VP8X, ALPH, VP8 frame header
    headerMessage: 'the WebP ends before the size its RIFF header declares (63 of 5402 bytes)',
    halfMessage: 'the WebP ends before the size its RIFF header declares (2701 of 5402 bytes)',
  },
  {
    file: 'square-400x400.gif',
    header: 781, // header, logical screen descriptor, global colour table
    headerMessage: 'the GIF ends before its trailer',
    halfMessage: 'the GIF ends before its trailer',
  },
  {
    file: 'tone-3s.wav',
    header: 78, // RIFF, fmt, LIST, data chunk header
    headerMessage: 'the WAV ends inside its data chunk (0 of 24000 bytes)',
    halfMessage: 'the WAV ends inside its data chunk (11961 of 24000 bytes)',
  },
  {
    file: 'speech-3s.mp3',
    header: 45 + 182, // ID3v2 tag + the Info frame (frame count, byte count)
    headerMessage: 'the MP3 ends early (0 of the 117 audio frames its header declares)',
    halfMessage: 'the MP3 ends inside its last audio frame (43 of 104 bytes)',
  },
  {
    file: 'tone-3s-lame-vbr.mp3',
    header: 103 + 288, // ID3v2 tag + LAME's Xing frame
    headerMessage: 'the MP3 ends early (0 of the 44 audio frames its header declares)',
    halfMessage: 'the MP3 ends inside its last audio frame (12 of 72 bytes)',
    endsWithTag: true,
  },
  {
    file: 'tone-3s.ogg',
    header: 58 + 2578, // the Vorbis identification page and the comment + setup page
    headerMessage: 'the Ogg file ends before its last page (no end-of-stream page)',
    halfMessage: 'the Ogg file ends inside its last page (2445 of 2578 bytes)',
    corrupt: { at: 4219 + 100, message: "the Ogg file's page 4 (at byte 4219) fails its CRC check" }, // the end-of-stream page
  },
  {
    file: 'tone-3s.aac',
    header: 7, // the first ADTS frame header
    headerMessage: 'the AAC stream ends inside its last frame (7 of 365 bytes)',
    halfMessage: 'the AAC stream ends inside its last frame (56 of 256 bytes)',
  },
  {
    file: 'tone-3s.flac',
    header: 8288, // fLaC, STREAMINFO, VORBIS_COMMENT, PADDING
    headerMessage: 'the FLAC has no audio frames',
    halfMessage: 'the FLAC ends inside its last audio frame',
    corrupt: { at: 19595 + 100, message: 'the FLAC ends inside its last audio frame' }, // the last frame (19595–19793)
  },
  {
    file: 'tone-3s-libflac.flac',
    header: 8304, // fLaC, STREAMINFO, SEEKTABLE, VORBIS_COMMENT, PADDING
    headerMessage: 'the FLAC has no audio frames',
    halfMessage: 'the FLAC ends inside its last audio frame',
    corrupt: { at: 15953 + 100, message: 'the FLAC ends inside its last audio frame' }, // the last frame (15953–17263)
  },
  {
    file: 'tone-3s.m4a',
    header: 28 + 8 + 8, // ftyp, free, the mdat box header (moov is at the end)
    headerMessage: 'the M4A ends inside its mdat box (8 of 6538 bytes present)',
    halfMessage: 'the M4A ends inside its mdat box (3682 of 6538 bytes present)',
  },
  {
    file: 'clip-4s.mp4',
    header: 32 + 1213, // ftyp + moov (faststart): duration and frame size read fine
    headerMessage: 'the MP4 has no media data (mdat box)',
    halfMessage: 'the MP4 ends inside its mdat box (1551 of 4355 bytes present)',
  },
  {
    file: 'clip-4s.mov',
    header: 20 + 8 + 8, // ftyp, wide, the mdat box header
    headerMessage: 'the MOV ends inside its mdat box (8 of 4355 bytes present)',
    halfMessage: 'the MOV ends inside its mdat box (2749 of 4355 bytes present)',
  },
  {
    file: 'clip-4s-moov-at-end.mp4',
    header: 32 + 8 + 8,
    headerMessage: 'the MP4 ends inside its mdat box (8 of 4355 bytes present)',
    halfMessage: 'the MP4 ends inside its mdat box (2764 of 4355 bytes present)',
  },
];

describe.each(cases)('$file', ({ file, header, headerMessage, halfMessage }) => {
  const whole = fixture(file);

  it('is refused when cut just after its header', async () => {
    const p = await probeMedia(whole.subarray(0, header));
    expect(p.kind).not.toBe('unknown');
    expect(p).toMatchObject({ complete: true, intact: false, corruption: headerMessage });
  });

  it('is refused when cut in half', async () => {
    expect(await probeMedia(whole.subarray(0, whole.length >> 1))).toMatchObject({
      intact: false,
      corruption: halfMessage,
    });
  });
});

describe.each(cases.filter((c) => !c.endsWithTag))('$file', ({ file }) => {
  it('is refused when its last byte is missing', async () => {
    const whole = fixture(file);
    const p = await probeMedia(whole.subarray(0, whole.length - 1));
    expect(p.intact).toBe(false);
    expect(p.corruption).toMatch(/ ends |trailer|declares/);
  });
});

describe.each(cases.filter((c) => c.corrupt !== undefined))('$file', ({ file, corrupt }) => {
  it('is refused when one byte of checksummed data is changed', async () => {
    const damaged = Buffer.from(fixture(file));
    damaged[corrupt!.at]! ^= 0x01;
    expect(await probeMedia(damaged)).toMatchObject({ intact: false, corruption: corrupt!.message });
  });
});

describe('what a whole file may carry and still be intact', () => {
  it('bytes after a PNG IEND or a JPEG EOI (trailers that decoders ignore)', async () => {
    const png = Buffer.concat([fixture('portrait-512x640.png'), Buffer.alloc(1000)]);
    expect(await probeMedia(png)).toMatchObject({ intact: true });
    const jpg = Buffer.concat([fixture('landscape-600x400.jpg'), Buffer.from('trailing motion-photo data')]);
    expect(await probeMedia(jpg)).toMatchObject({ intact: true });
  });

  it('an MP3 with ID3v1 and ID3v2 tags around its frames (LAME); a cut into the ID3v1 tag leaves the audio whole', async () => {
    const lame = fixture('tone-3s-lame-vbr.mp3');
    expect(lame.subarray(-128, -125).toString('latin1')).toBe('TAG');
    expect(await probeMedia(lame)).toMatchObject({ mime: 'audio/mpeg', intact: true });
    expect(await probeMedia(lame.subarray(0, -1))).toMatchObject({ intact: true });
    // …but one byte more and the last audio frame is cut.
    expect(await probeMedia(lame.subarray(0, -129))).toMatchObject({
      intact: false,
      corruption: 'the MP3 ends inside its last audio frame (71 of 72 bytes)',
    });
  });

  it('a WAV written to a pipe (RIFF and data sizes never filled in)', async () => {
    const wav = Buffer.from(fixture('tone-3s.wav'));
    wav.writeUInt32LE(0xffffffff, 4);
    wav.writeUInt32LE(0xffffffff, 74); // the data chunk's size
    expect(await probeMedia(wav)).toMatchObject({ mime: 'audio/wav', intact: true });
  });

  it("a WAV whose RIFF size is the file's length (a known writer bug; every chunk is whole)", async () => {
    const wav = Buffer.from(fixture('tone-3s.wav'));
    wav.writeUInt32LE(wav.length, 4);
    expect(await probeMedia(wav)).toMatchObject({ intact: true });
    // …but not when the data chunk itself is cut.
    const cut = Buffer.from(wav.subarray(0, wav.length - 8));
    expect(await probeMedia(cut)).toMatchObject({
      intact: false,
      corruption: 'the WAV ends inside its data chunk (23992 of 24000 bytes)',
    });
  });

  it('an MP4 whose mdat runs "to the end of the file" (size 0) — and is refused once cut, by its sample table', async () => {
    const mp4 = Buffer.from(fixture('clip-4s-moov-at-end.mp4'));
    // ftyp(32) free(8) mdat(4355) moov(1213): move moov before mdat so that mdat can be last, size 0.
    const moov = mp4.subarray(32 + 8 + 4355);
    const mdat = Buffer.from(mp4.subarray(40, 40 + 4355));
    mdat.writeUInt32BE(0, 0);
    // The sample table's chunk offsets point into mdat: shift them by moov's new place.
    const moved = Buffer.concat([mp4.subarray(0, 32), moov, mdat]);
    shiftChunkOffsets(moved, 32, 32 + moov.length, moov.length - 8);
    expect(await probeMedia(moved)).toMatchObject({ intact: true, durationSeconds: 4 });
    const cut = moved.subarray(0, moved.length - 100);
    expect(await probeMedia(cut)).toMatchObject({
      intact: false,
      corruption: `the MP4's sample table points past the end of the file (to byte ${moved.length}, the file has ${cut.length} bytes)`,
    });
  });
});

describe('Ogg and FLAC: only the tail is checksummed, so a large file costs O(pages/headers), not O(bytes)', () => {
  const SIZE = 64 * 2 ** 20;
  /** The result of checkIntegrity and the bytes it ran through a JS checksum (the work, not a time). */
  const check = (b: Buffer, mime: string) => {
    const before = jsChecksummedBytes.count;
    const result = checkIntegrity(b, mime, '');
    return { result, checksummed: jsChecksummedBytes.count - before };
  };

  it('a 64 MB Ogg Vorbis stream: its end-of-stream page checksummed, nothing else', () => {
    const ogg = bigOgg(SIZE);
    expect(ogg.length).toBeGreaterThan(SIZE - 4096);
    const whole = check(ogg, 'audio/ogg');
    expect(whole.result).toEqual({ intact: true });
    expect(whole.checksummed).toBe(788); // the end-of-stream page

    const half = check(ogg.subarray(0, ogg.length >> 1), 'audio/ogg');
    expect(half.result).toMatchObject({
      intact: false,
      corruption: expect.stringMatching(/^the Ogg file ends inside its last page \(/),
    });
    expect(half.checksummed).toBe(0);

    const damaged = Buffer.from(ogg);
    damaged[damaged.length - 100]! ^= 0x01;
    expect(check(damaged, 'audio/ogg').result).toMatchObject({
      intact: false,
      corruption: expect.stringMatching(/fails its CRC check$/),
    });
  });

  it('a 64 MB FLAC: its first frame header and its last frame checksummed, nothing else', () => {
    const flac = bigFlac(SIZE);
    expect(flac.length).toBeGreaterThan(SIZE - 4096);
    const whole = check(flac, 'audio/flac');
    expect(whole.result).toEqual({ intact: true });
    expect(whole.checksummed).toBeLessThan(4096); // the last frame is 1312 bytes

    const half = check(flac.subarray(0, flac.length >> 1), 'audio/flac');
    expect(half.result).toEqual({ intact: false, corruption: 'the FLAC ends inside its last audio frame' });
    expect(half.checksummed).toBeLessThan(4096);

    // Cut between two frames: every frame present is whole, but STREAMINFO counts more samples.
    const total = Number(flac.readUInt32BE(8 + 14));
    const lastFrame = flac.length - 1312;
    expect(flac.subarray(lastFrame, lastFrame + 2)).toEqual(Buffer.from([0xff, 0xf8]));
    expect(check(flac.subarray(0, lastFrame), 'audio/flac').result).toEqual({
      intact: false,
      corruption: `the FLAC ends early (${total - 3520} of the ${total} samples its STREAMINFO declares)`,
    });

    const damaged = Buffer.from(flac);
    damaged[damaged.length - 100]! ^= 0x01;
    expect(check(damaged, 'audio/flac').result).toEqual({
      intact: false,
      corruption: 'the FLAC ends inside its last audio frame',
    });
  });

  it('FLAC: the last frame is found behind bytes in its data that look like a frame header', () => {
    // 8-bit mono frames stored verbatim: the last one's samples hold a frame header (sync code, block
    // size, CRC-8 all right) that is no frame. The search backward from the end tries it first.
    const fake = flacHeader(0, 64);
    const samples = (k: number) => Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 7 + k) & 0x7f));
    const last = samples(3);
    fake.copy(last, 20);
    const flac = verbatimFlac([samples(0), samples(1), samples(2), last]);
    expect(checkIntegrity(flac, 'audio/flac', 'flac')).toEqual({ intact: true });
    expect(checkIntegrity(flac.subarray(0, -1), 'audio/flac', 'flac')).toEqual({
      intact: false,
      corruption: 'the FLAC ends inside its last audio frame',
    });
    expect(checkIntegrity(flac.subarray(0, -(last.length + 10)), 'audio/flac', 'flac')).toEqual({
      intact: false,
      corruption: 'the FLAC ends early (192 of the 256 samples its STREAMINFO declares)',
    });
  });
});

describe('a prefix (Range download) of a video with a known total size', () => {
  const mp4 = fixture('clip-4s.mp4'); // faststart: ftyp(32) moov(1213) free(8) mdat(4355)

  it('is consistent when the served size is the size the boxes declare: nothing is claimed', async () => {
    const p = await probeMedia(mp4.subarray(0, 2048), { totalSize: mp4.length });
    expect(p).toMatchObject({ complete: false, durationSeconds: 4 });
    expect(p.intact).toBeUndefined();
  });

  it('is refused when the file as served is shorter than its moov says (sample data past the end)', async () => {
    const p = await probeMedia(mp4.subarray(0, 2048), { totalSize: 4000 });
    expect(p).toMatchObject({
      complete: false,
      intact: false,
      corruption: "the MP4's sample table points past the end of the file (to byte 5608, the file has 4000 bytes)",
    });
  });

  it('is refused when a top-level box seen in the prefix runs past the served size', async () => {
    const late = fixture('clip-4s-moov-at-end.mp4'); // ftyp(32) free(8) mdat(4355) moov(1213)
    const p = await probeMedia(late.subarray(0, 2048), { totalSize: 4000 });
    expect(p).toMatchObject({
      complete: false,
      intact: false,
      corruption: "the MP4's mdat box runs past the end of the file (it ends at byte 4395, the file has 4000 bytes)",
    });
  });

  it('is refused by its sample table when the last box claims the rest of the file (size 0)', async () => {
    const zero = Buffer.from(mp4);
    zero.writeUInt32BE(0, 32 + 1213 + 8); // mdat size 0: "to the end"
    const p = await probeMedia(zero.subarray(0, 2048), { totalSize: 5000 });
    expect(p).toMatchObject({
      intact: false,
      corruption: "the MP4's sample table points past the end of the file (to byte 5608, the file has 5000 bytes)",
    });
  });

  it('says nothing about images and audio (only a whole file tells)', async () => {
    const png = fixture('portrait-512x640.png');
    const p = await probeMedia(png.subarray(0, 1024), { totalSize: png.length });
    expect(p).toMatchObject({ complete: false, width: 512 });
    expect(p.intact).toBeUndefined();
    const wav = fixture('tone-3s.wav');
    expect((await probeMedia(wav.subarray(0, 4096), { totalSize: wav.length })).intact).toBeUndefined();
  });
});

/** Adds `delta` to every stco/co64 entry inside [from, to) (a moov box). */
function shiftChunkOffsets(b: Buffer, from: number, to: number, delta: number): void {
  for (let i = from; i + 16 <= to; i++) {
    const type = b.toString('latin1', i + 4, i + 8);
    if (type !== 'stco' && type !== 'co64') continue;
    const count = b.readUInt32BE(i + 12);
    for (let k = 0; k < count; k++) {
      if (type === 'stco') b.writeUInt32BE(b.readUInt32BE(i + 16 + k * 4) + delta, i + 16 + k * 4);
      else b.writeBigUInt64BE(b.readBigUInt64BE(i + 16 + k * 8) + BigInt(delta), i + 16 + k * 8);
    }
  }
}

/** MSB-first CRC of `width` bits, init 0, no final XOR: Ogg's CRC-32 and FLAC's CRC-8 and CRC-16. */
function msbCrc(poly: number, width: 8 | 16 | 32): (b: Uint8Array) => number {
  const top = 2 ** (width - 1);
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i * 2 ** (width - 8);
    for (let k = 0; k < 8; k++) r = r >= top ? (((r - top) * 2) ^ poly) >>> 0 : r * 2;
    t[i] = r;
  }
  return (b) => {
    let c = 0;
    for (let i = 0; i < b.length; i++) c = (((c << 8) ^ t[((c >>> (width - 8)) ^ b[i]!) & 0xff]!) >>> 0) % 2 ** width;
    return c;
  };
}
const oggCrc = msbCrc(0x04c11db7, 32);
const crc8 = msbCrc(0x07, 8);
const crc16 = msbCrc(0x8005, 16);

/**
 * A valid Ogg Vorbis stream of about `size` bytes: tone-3s.ogg's two header pages, its two middle
 * audio pages over and over (each with its own sequence number, granule position and CRC), and its
 * end-of-stream page.
 */
function bigOgg(size: number): Buffer {
  const o = fixture('tone-3s.ogg'); // pages at 0, 58, 2636, 3434 and 4219 (end of stream, 788 bytes)
  const parts = [o.subarray(0, 2636)];
  let length = 2636;
  let sequence = 2;
  let granule = 0n;
  const add = (src: Buffer) => {
    const page = Buffer.from(src);
    page.writeBigInt64LE((granule += 8192n), 6);
    page.writeUInt32LE(sequence++, 18);
    page.writeUInt32LE(0, 22);
    page.writeUInt32LE(oggCrc(page), 22);
    parts.push(page);
    length += page.length;
  };
  for (let i = 0; length < size - 2 * 800; i++) add(i % 2 === 0 ? o.subarray(2636, 3434) : o.subarray(3434, 4219));
  add(o.subarray(4219));
  return Buffer.concat(parts);
}

/** A FLAC frame or sample number, "UTF-8" coded. */
function flacNumber(n: number): number[] {
  if (n < 0x80) return [n];
  let bytes = 2;
  while (n >= 2 ** (5 * bytes + 1)) bytes++;
  const tail: number[] = [];
  for (let i = 1; i < bytes; i++, n = Math.floor(n / 64)) tail.unshift(0x80 | (n % 64));
  return [((0xff00 >> bytes) & 0xff) | n, ...tail];
}

/**
 * A valid FLAC of about `size` bytes (libFLAC's MD5 left unset): tone-3s-libflac.flac's metadata,
 * its five full frames (4096 samples) over and over, renumbered, and its last frame (3520 samples);
 * STREAMINFO's frame sizes and total sample count match.
 */
function bigFlac(size: number): Buffer {
  const f = fixture('tone-3s-libflac.flac');
  const starts = [8304, 9834, 11364, 12895, 14424, 15953, f.length]; // the frames (headers FF F8 …)
  const frame = (k: number, n: number) => {
    const src = f.subarray(starts[k]!, starts[k + 1]!);
    const extra = k === 5 ? 2 : 0; // the last frame's block size follows its number
    // Header: sync, block size and rate, channels and depth; number; [block size]; CRC-8. Then the
    // subframe as it is and a new CRC-16.
    const head = Buffer.from([...src.subarray(0, 4), ...flacNumber(n), ...src.subarray(5, 5 + extra)]);
    const out = Buffer.concat([head, Buffer.from([crc8(head)]), src.subarray(6 + extra, -2), Buffer.alloc(2)]);
    out.writeUInt16BE(crc16(out.subarray(0, -2)), out.length - 2);
    return out;
  };
  const parts: Buffer[] = [];
  let length = 8304;
  let frames = 0;
  let min = Infinity;
  let max = 0;
  const add = (k: number) => {
    const out = frame(k, frames++);
    parts.push(out);
    length += out.length;
    min = Math.min(min, out.length);
    max = Math.max(max, out.length);
  };
  while (length < size - 2 * 1536) add(frames % 5);
  add(5);
  const head = Buffer.from(f.subarray(0, 8304));
  const info = 8; // STREAMINFO's body, after "fLaC" and the block header
  head.writeUIntBE(min, info + 4, 3);
  head.writeUIntBE(max, info + 7, 3);
  const samples = (frames - 1) * 4096 + 3520;
  head[info + 13] = head[info + 13]! & 0xf0; // the top 4 of the 36 bits
  head.writeUInt32BE(samples, info + 14);
  head.fill(0, info + 18, info + 34); // MD5 unset
  return Buffer.concat([head, ...parts]);
}

/** A frame header for 8 kHz 8-bit mono, fixed block size `block` (≤ 256), frame number `n`. */
function flacHeader(n: number, block: number): Buffer {
  // Block size code 6: (block size − 1) in 8 bits after the number; rate code 4: 8 kHz; 0x02: mono, 8 bits.
  const head = Buffer.from([0xff, 0xf8, 0x64, 0x02, ...flacNumber(n), block - 1]);
  return Buffer.concat([head, Buffer.from([crc8(head)])]);
}

/** A FLAC of 8 kHz 8-bit mono frames stored verbatim, one per block of samples (all the same size). */
function verbatimFlac(blocks: Buffer[]): Buffer {
  const block = blocks[0]!.length;
  const info = Buffer.alloc(4 + 34);
  info[0] = 0x80; // last metadata block, STREAMINFO
  info.writeUIntBE(34, 1, 3);
  info.writeUInt16BE(block, 4);
  info.writeUInt16BE(block, 6);
  // Frame sizes unknown (0); sample rate 20 bits, channels − 1 3 bits, bits per sample − 1 5 bits, samples 36 bits.
  info.writeBigUInt64BE((8000n << 44n) | (7n << 36n) | BigInt(block * blocks.length), 14);
  const frames = blocks.map((samples, n) => {
    const frame = Buffer.concat([
      flacHeader(n, block),
      Buffer.from([0x02]) /* verbatim subframe */,
      samples,
      Buffer.alloc(2),
    ]);
    frame.writeUInt16BE(crc16(frame.subarray(0, -2)), frame.length - 2);
    return frame;
  });
  return Buffer.concat([Buffer.from('fLaC'), info, ...frames]);
}
