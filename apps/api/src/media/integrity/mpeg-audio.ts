/** Integrity walkers for MPEG audio streams: MP3 (MPEG-1/2/2.5 layer I–III) and ADTS (raw AAC). */
import { audioEnd, skipId3v2 } from './audio-tags.js';
import { bad, type Integrity, OK } from './result.js';

// MPEG audio bitrates (kbit/s) by [MPEG-1?][layer 1..3]; sample rates by version bits.
const MPEG1_BITRATES = [
  [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
];
const MPEG2_BITRATES = [
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
const MPEG_SAMPLE_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  0: [11025, 12000, 8000],
};

interface MpegFrame {
  length: number;
  /** 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5. */
  version: number;
  layer: number;
  sampleRate: number;
  mono: boolean;
}

/** The MPEG audio frame header at `p`; null if none; 'free' for free-format bitrate (length unknown). */
function mpegFrame(b: Buffer, p: number): MpegFrame | 'free' | null {
  if (p + 4 > b.length || b[p] !== 0xff || (b[p + 1]! & 0xe0) !== 0xe0) return null;
  const version = (b[p + 1]! >> 3) & 3;
  const layer = 4 - ((b[p + 1]! >> 1) & 3); // 1..3; 4 = reserved
  const bitrateIndex = b[p + 2]! >> 4;
  const rateIndex = (b[p + 2]! >> 2) & 3;
  if (version === 1 || layer === 4 || bitrateIndex === 15 || rateIndex === 3) return null;
  if (bitrateIndex === 0) return 'free';
  const bitrate = (version === 3 ? MPEG1_BITRATES : MPEG2_BITRATES)[layer - 1]![bitrateIndex]! * 1000;
  const sampleRate = MPEG_SAMPLE_RATES[version]![rateIndex]!;
  const padding = (b[p + 2]! >> 1) & 1;
  const length =
    layer === 1
      ? (Math.floor((12 * bitrate) / sampleRate) + padding) * 4
      : Math.floor(((layer === 3 && version !== 3 ? 72 : 144) * bitrate) / sampleRate) + padding;
  return { length, version, layer, sampleRate, mono: b[p + 3]! >> 6 === 3 };
}

/** A frame at `p` that the stream continues from (the next frame, or the end of the audio). */
function mpegSyncAt(b: Buffer, p: number, end: number): boolean {
  const f = mpegFrame(b, p);
  if (f === null || f === 'free') return false;
  if (p + f.length === end) return true;
  const g = mpegFrame(b, p + f.length);
  return g !== null && g !== 'free' && g.version === f.version && g.layer === f.layer && g.sampleRate === f.sampleRate;
}

function findMpegSync(b: Buffer, from: number, end: number, limit: number): number {
  for (let p = b.indexOf(0xff, from); p >= 0 && p < Math.min(end, from + limit); p = b.indexOf(0xff, p + 1)) {
    if (mpegSyncAt(b, p, end)) return p;
  }
  return -1;
}

/** Declared frames/bytes of a Xing/Info (LAME, ffmpeg) or VBRI (Fraunhofer) header in the frame at `p`. */
function mpegInfoHeader(b: Buffer, p: number, f: MpegFrame): { frames?: number; bytes?: number } | undefined {
  if (f.layer !== 3) return undefined;
  const side = f.version === 3 ? (f.mono ? 17 : 32) : f.mono ? 9 : 17;
  for (const off of [4 + side, 4 + side + 2 /* after a CRC */]) {
    const q = p + off;
    if (q + 8 > p + f.length) continue;
    const tag = b.toString('latin1', q, q + 4);
    if (tag !== 'Xing' && tag !== 'Info') continue;
    const flags = b.readUInt32BE(q + 4);
    let r = q + 8;
    const out: { frames?: number; bytes?: number } = {};
    if (flags & 1 && r + 4 <= p + f.length) {
      out.frames = b.readUInt32BE(r);
      r += 4;
    }
    if (flags & 2 && r + 4 <= p + f.length) out.bytes = b.readUInt32BE(r);
    return out;
  }
  const v = p + 36;
  if (v + 18 <= p + f.length && b.toString('latin1', v, v + 4) === 'VBRI') {
    return { bytes: b.readUInt32BE(v + 10), frames: b.readUInt32BE(v + 14) };
  }
  return undefined;
}

/**
 * Frames walked header to header from the first one; the last must be complete. A Xing/Info/VBRI
 * header's frame and byte counts (LAME and ffmpeg count the bytes from that header's frame to the
 * last audio frame; tags excluded) must be present, less one frame.
 */
export function checkMp3(b: Buffer): Integrity | undefined {
  const start = skipId3v2(b, 0);
  if (start < 0) return bad('the MP3 ends inside its ID3v2 tag');
  const end = audioEnd(b);
  const first = findMpegSync(b, start, end, 64 * 1024);
  if (first < 0) {
    const f = mpegFrame(b, start);
    if (f !== null && f !== 'free' && start + f.length > end) {
      return bad(`the MP3 ends inside its first audio frame (${end - start} of ${f.length} bytes)`);
    }
    return f === 'free' ? undefined : bad('the MP3 has no audio frames');
  }
  let pos = first;
  let frames = 0;
  let info: { frames?: number; bytes?: number; start: number; frameLength: number } | undefined;
  while (pos < end) {
    const f = mpegFrame(b, pos);
    if (f === 'free') return undefined; // free-format bitrate: frame lengths are not declared
    if (f === null) {
      if (end - pos < 4 && b[pos] === 0xff) return bad('the MP3 ends inside the header of its last audio frame');
      const next = findMpegSync(b, pos + 1, end, end); // junk between frames: resume at the next frame
      if (next < 0) break; // trailing bytes that are no frame (padding, an unknown tag)
      pos = next;
      continue;
    }
    if (pos + f.length > end)
      return bad(`the MP3 ends inside its last audio frame (${end - pos} of ${f.length} bytes)`);
    if (frames === 0) {
      const header = mpegInfoHeader(b, pos, f);
      if (header) info = { ...header, start: pos, frameLength: f.length };
    }
    frames++;
    pos += f.length;
  }
  if (info) {
    const audioFrames = frames - 1; // the header's own frame is silent
    if (info.frames !== undefined && audioFrames + 1 < info.frames) {
      return bad(`the MP3 ends early (${audioFrames} of the ${info.frames} audio frames its header declares)`);
    }
    const present = pos - info.start;
    if (info.bytes !== undefined && present + info.frameLength < info.bytes) {
      return bad(`the MP3 ends early (${present} of the ${info.bytes} bytes its header declares)`);
    }
  }
  return OK;
}

/** ADTS (raw .aac): frames walked by their 13-bit lengths; the last must be complete. */
export function checkAdts(b: Buffer): Integrity {
  const start = skipId3v2(b, 0);
  if (start < 0) return bad('the AAC file ends inside its ID3v2 tag');
  const end = audioEnd(b);
  const isFrame = (p: number) => p + 7 <= end && b[p] === 0xff && (b[p + 1]! & 0xf6) === 0xf0;
  let pos = start;
  let frames = 0;
  while (pos < end) {
    if (!isFrame(pos)) {
      if (end - pos < 7 && b[pos] === 0xff) return bad('the AAC stream ends inside the header of its last frame');
      if (frames === 0) return bad('the AAC stream has no frames');
      break; // trailing bytes that are no frame
    }
    const length = ((b[pos + 3]! & 3) << 11) | (b[pos + 4]! << 3) | (b[pos + 5]! >> 5);
    if (length < (b[pos + 1]! & 1 ? 7 : 9)) return bad(`the AAC stream has a damaged frame header at byte ${pos}`);
    if (pos + length > end) return bad(`the AAC stream ends inside its last frame (${end - pos} of ${length} bytes)`);
    frames++;
    pos += length;
  }
  return frames > 0 ? OK : bad('the AAC stream has no frames');
}
