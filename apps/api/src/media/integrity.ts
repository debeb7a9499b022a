/**
 * Whether media bytes are a WHOLE file: every structure the container declares is present and, where
 * the format carries checksums, they check out. A file cut short (an interrupted upload, a partial
 * object in a bucket) or damaged in transit usually still has an intact header, so type, dimensions
 * and even durations read fine — and the provider refuses it only after the task was paid for.
 *
 * Hand-written structure walkers, no decoding: they read container headers and lengths, the PNG
 * CRCs (node:zlib's native crc32) and, for Ogg and FLAC, the checksums of the END of the stream only:
 * a checksum computed in JS runs at ~300–450 MB/s, which over a 100 MB upload would block the event
 * loop for a quarter of a second. A walk costs one pass over the headers plus a bounded tail; a byte
 * changed in the middle of Ogg/FLAC/MP3/AAC/WAV/MP4 data goes unnoticed. The npm alternatives either
 * decode every pixel/sample (pngjs, fast-png, jpeg-js, the wasm decoders — hundreds of MB and seconds
 * of CPU for a 10 MB photo, and each covers one format), are native (sharp), or are unmaintained
 * (png-chunks-extract, 2016). Streaming frame parsers (codec-parser) drop an incomplete last frame
 * silently, which is exactly the case to detect.
 *
 * Each walker returns `{ intact: true }`, `{ intact: false, corruption }` with a short reason
 * ("the PNG ends before its IEND chunk"), or `undefined` when it cannot tell (free-format MP3).
 */
import { crc32 } from 'node:zlib';
import { boxes, ISO_BMFF_MIMES, readBoxHeader } from './iso-bmff.js';

export interface Integrity {
  intact: boolean;
  /** Why the file is not intact, when it is not: a short phrase naming the format. */
  corruption?: string;
}

const OK: Integrity = { intact: true };
const bad = (corruption: string): Integrity => ({ intact: false, corruption });

/**
 * Checks the whole file `b` of type `mime`/`ext` (as file-type reported them). `undefined` for types
 * without a walker: they are neither accepted nor refused here.
 */
export function checkIntegrity(b: Uint8Array, mime: string, ext: string): Integrity | undefined {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  switch (mime) {
    case 'image/png':
    case 'image/apng':
      return checkPng(buf);
    case 'image/jpeg':
      return checkJpeg(buf);
    case 'image/webp':
      return checkWebp(buf);
    case 'image/gif':
      return checkGif(buf);
    case 'audio/wav':
    case 'audio/x-wav':
    case 'audio/vnd.wave':
      return checkWav(buf);
    case 'audio/mpeg':
      return checkMp3(buf);
    case 'audio/aac':
      return checkAdts(buf);
    case 'audio/flac':
    case 'audio/x-flac':
      return checkFlac(buf);
  }
  if (ISO_BMFF_MIMES.has(mime)) return checkIsoBmff(buf, ext.toUpperCase());
  if (/ogg|opus/.test(mime)) return checkOgg(buf);
  return undefined;
}

/**
 * For a PREFIX of an ISO-BMFF file whose total size is known (a Range download): whether the boxes
 * seen in the prefix — top-level box sizes, and the sample table when `moov` is in the prefix —
 * declare more bytes than the file has. Only ever says "not intact"; `undefined` otherwise, since
 * a prefix cannot prove the rest is there.
 */
export function checkIsoBmffPrefix(b: Uint8Array, totalSize: number, mime: string, ext: string): Integrity | undefined {
  if (!ISO_BMFF_MIMES.has(mime)) return undefined;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const label = ext.toUpperCase();
  let pos = 0;
  while (pos + 8 <= buf.length && pos < totalSize) {
    const head = readBoxHeader(buf, pos, buf.length);
    if (head === null) return undefined; // 64-bit size cut by the prefix
    const size = head.size === 0 ? totalSize - pos : head.size;
    if (size < head.header) return bad(`the ${label} has a damaged box header at byte ${pos}`);
    if (pos + size > totalSize) {
      return bad(
        `the ${label}'s ${printable(head.type)} box runs past the end of the file ` +
          `(it ends at byte ${pos + size}, the file has ${totalSize} bytes)`,
      );
    }
    if (head.type === 'moov' && pos + size <= buf.length) {
      const end = sampleDataEnd(buf, pos + head.header, pos + size);
      if (end === 'damaged') return bad(`the ${label}'s sample table is damaged`);
      if (end > totalSize) {
        return bad(
          `the ${label}'s sample table points past the end of the file (to byte ${end}, the file has ${totalSize} bytes)`,
        );
      }
    }
    pos += size;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Every chunk (length, type, data, CRC) up to and including IEND; an IHDR first, an IDAT somewhere. */
function checkPng(b: Buffer): Integrity {
  if (b.length < 8 || !b.subarray(0, 8).equals(PNG_SIGNATURE)) return bad('the PNG signature is damaged');
  let pos = 8;
  let idat = false;
  for (let first = true; ; first = false) {
    if (pos + 8 > b.length) return bad('the PNG ends before its IEND chunk');
    const len = b.readUInt32BE(pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    if (!/^[A-Za-z]{4}$/.test(type) || len > 0x7fffffff)
      return bad(`the PNG has a damaged chunk header at byte ${pos}`);
    if (first && type !== 'IHDR') return bad('the PNG does not start with an IHDR chunk');
    const end = pos + 12 + len;
    if (end > b.length) {
      if (type === 'IEND') return bad('the PNG ends inside its IEND chunk');
      return bad(`the PNG ends inside ${/^[aeiou]/i.test(type) ? 'an' : 'a'} ${type} chunk, before its IEND chunk`);
    }
    if (crc32(b.subarray(pos + 4, pos + 8 + len)) !== b.readUInt32BE(pos + 8 + len)) {
      return bad(`the PNG's ${type} chunk at byte ${pos} fails its CRC check`);
    }
    if (type === 'IDAT') idat = true;
    if (type === 'IEND') return idat ? OK : bad('the PNG has no image data (IDAT chunk)');
    pos = end;
  }
}

function jpegMarkerName(m: number): string {
  if (m >= 0xe0 && m <= 0xef) return `APP${m - 0xe0}`;
  if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return 'SOF';
  const names: Record<number, string> = {
    196: 'DHT',
    204: 'DAC',
    218: 'SOS',
    219: 'DQT',
    221: 'DRI',
    220: 'DNL',
    254: 'COM',
  };
  return names[m] ?? `0xFF${m.toString(16).toUpperCase()}`;
}

/**
 * Marker segments up to each SOS, the entropy-coded data after it (scanned for the next marker:
 * FF00 is a stuffed byte, FFD0–FFD7 restart markers), and so on until EOI. Progressive files have
 * several scans with tables between them; data after EOI (MPF images, motion-photo trailers) is fine.
 */
function checkJpeg(b: Buffer): Integrity {
  const NO_EOI = 'the JPEG ends before its end-of-image marker (EOI)';
  let pos = 2; // after SOI
  let sof = false;
  let sos = false;
  for (;;) {
    // Bytes where a marker must be are skipped, as libjpeg does ("extraneous bytes before marker").
    if (b[pos] !== 0xff) pos = b.indexOf(0xff, pos);
    if (pos < 0 || pos >= b.length) return bad(NO_EOI);
    while (pos + 1 < b.length && b[pos + 1] === 0xff) pos++; // fill bytes
    if (pos + 1 >= b.length) return bad(NO_EOI);
    const m = b[pos + 1]!;
    if (m === 0xd9) return sos ? OK : bad('the JPEG has no image data (no start-of-scan segment)');
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      pos += 2; // standalone markers
      continue;
    }
    if (m === 0x00 || m === 0xd8) {
      pos += 2; // not a marker: extraneous bytes
      continue;
    }
    if (pos + 4 > b.length) return bad(`the JPEG ends inside its ${jpegMarkerName(m)} segment`);
    const len = b.readUInt16BE(pos + 2);
    if (len < 2) return bad(`the JPEG has a damaged ${jpegMarkerName(m)} segment at byte ${pos}`);
    const end = pos + 2 + len;
    if (end > b.length) return bad(`the JPEG ends inside its ${jpegMarkerName(m)} segment`);
    if (jpegMarkerName(m) === 'SOF') sof = true;
    if (m !== 0xda) {
      pos = end;
      continue;
    }
    if (!sof) return bad('the JPEG has a scan before its frame header (SOF)');
    sos = true;
    // Entropy-coded data: runs to the next marker that is not a stuffed byte or a restart marker.
    let p = end;
    for (;;) {
      const i = b.indexOf(0xff, p);
      if (i < 0 || i + 1 >= b.length) return bad(NO_EOI);
      const n = b[i + 1]!;
      if (n === 0x00 || (n >= 0xd0 && n <= 0xd7)) p = i + 2;
      else if (n === 0xff) p = i + 1;
      else {
        pos = i;
        break;
      }
    }
  }
}

/** RIFF size present; chunks (VP8 / VP8L / VP8X + ALPH, ANIM, ANMF …) complete; an image chunk. */
function checkWebp(b: Buffer): Integrity {
  if (b.length < 12) return bad('the WebP ends inside its RIFF header');
  const declared = 8 + b.readUInt32LE(4);
  if (b.length < declared) {
    return bad(`the WebP ends before the size its RIFF header declares (${b.length} of ${declared} bytes)`);
  }
  const r = webpChunks(b, 12, declared);
  if (typeof r === 'string') return bad(r);
  return r ? OK : bad('the WebP has no image data (VP8 or VP8L chunk)');
}

/** Walks the chunks in [from, to); a reason when one is damaged, else whether an image chunk was seen. */
function webpChunks(b: Buffer, from: number, to: number): string | boolean {
  let pos = from;
  let image = false;
  while (pos < to) {
    if (pos + 8 > to) return 'the WebP ends inside a chunk header';
    const id = b.toString('latin1', pos, pos + 4);
    const size = b.readUInt32LE(pos + 4);
    const data = pos + 8;
    if (data + size > to) return `the WebP ends inside its ${id.trim()} chunk`;
    if (id === 'VP8 ') {
      // Frame tag: bit 0 = 0 for a key frame, bits 5–23 = first partition size; key frames carry a
      // start code and dimensions (10 bytes in all) before the partition.
      if (size < 10) return 'the WebP has a damaged VP8 chunk';
      const tag = b[data]! | (b[data + 1]! << 8) | (b[data + 2]! << 16);
      if ((tag & 1) !== 0 || b[data + 3] !== 0x9d || b[data + 4] !== 0x01 || b[data + 5] !== 0x2a) {
        return 'the WebP has a damaged VP8 chunk';
      }
      if (10 + (tag >>> 5) > size) return "the WebP's VP8 frame is longer than its chunk";
      image = true;
    } else if (id === 'VP8L') {
      if (size < 5 || b[data] !== 0x2f) return 'the WebP has a damaged VP8L chunk';
      image = true;
    } else if (id === 'ANMF') {
      if (size < 16) return 'the WebP has a damaged ANMF chunk';
      const inner = webpChunks(b, data + 16, data + size);
      if (typeof inner === 'string') return inner;
      image ||= inner;
    }
    pos = data + size + (size & 1);
  }
  return image;
}

/** Blocks (extensions and images with their sub-blocks) up to the trailer byte 0x3B. */
function checkGif(b: Buffer): Integrity {
  const END = 'the GIF ends before its trailer';
  if (b.length < 13) return bad(END);
  let pos = 13 + (b[10]! & 0x80 ? 3 << ((b[10]! & 7) + 1) : 0);
  let image = false;
  const subBlocks = (p: number): number => {
    while (p < b.length && b[p] !== 0) p += 1 + b[p]!;
    return p < b.length ? p + 1 : -1;
  };
  for (;;) {
    if (pos >= b.length) return bad(END);
    const block = b[pos]!;
    if (block === 0x3b) return image ? OK : bad('the GIF has no image');
    if (block === 0x21) {
      pos = pos + 2 > b.length ? -1 : subBlocks(pos + 2);
    } else if (block === 0x2c) {
      if (pos + 10 > b.length) return bad(END);
      const flags = b[pos + 9]!;
      const lct = flags & 0x80 ? 3 << ((flags & 7) + 1) : 0;
      pos = pos + 11 + lct > b.length ? -1 : subBlocks(pos + 11 + lct); // + LZW minimum code size
      image = true;
    } else {
      return bad(`the GIF has damaged data at byte ${pos}`);
    }
    if (pos < 0) return bad(END);
  }
}

// ---------------------------------------------------------------------------------------------
// ISO base media (mp4, mov, m4a)
// ---------------------------------------------------------------------------------------------

function printable(type: string): string {
  return /^[\x20-\x7e]{4}$/.test(type) ? type : 'unnamed';
}

function child(b: Buffer, from: number, to: number, type: string): { start: number; end: number } | undefined {
  for (const c of boxes(b, from, to)) if (c.type === type) return c;
  return undefined;
}

/**
 * The furthest byte any track's sample table points at (chunk offsets from stco/co64 plus the sizes
 * of the samples in each chunk from stsc/stsz); 0 for fragmented files (empty tables), 'damaged'
 * when a table claims more entries than its box holds.
 */
function sampleDataEnd(b: Buffer, moovStart: number, moovEnd: number): number | 'damaged' {
  let max = 0;
  for (const trak of boxes(b, moovStart, moovEnd)) {
    if (trak.type !== 'trak') continue;
    const mdia = child(b, trak.start, trak.end, 'mdia');
    const minf = mdia && child(b, mdia.start, mdia.end, 'minf');
    const stbl = minf && child(b, minf.start, minf.end, 'stbl');
    if (!stbl) continue;
    let offsets: number[] | undefined;
    let stsc: { first: number; perChunk: number }[] | undefined;
    let fixedSize = 0;
    let sizes: Buffer | undefined;
    let sampleCount = 0;
    for (const box of boxes(b, stbl.start, stbl.end)) {
      if (box.type !== 'stco' && box.type !== 'co64' && box.type !== 'stsc' && box.type !== 'stsz') continue;
      const p = box.start + 8; // version/flags + entry count
      if (box.end < p) return 'damaged';
      const count = b.readUInt32BE(box.start + 4);
      if (box.type === 'stco' || box.type === 'co64') {
        const w = box.type === 'stco' ? 4 : 8;
        if (p + count * w > box.end) return 'damaged';
        offsets = [];
        for (let i = 0; i < count; i++) {
          offsets.push(w === 4 ? b.readUInt32BE(p + i * 4) : Number(b.readBigUInt64BE(p + i * 8)));
        }
      } else if (box.type === 'stsc') {
        if (p + count * 12 > box.end) return 'damaged';
        stsc = [];
        for (let i = 0; i < count; i++)
          stsc.push({ first: b.readUInt32BE(p + i * 12), perChunk: b.readUInt32BE(p + i * 12 + 4) });
      } else if (box.type === 'stsz') {
        if (box.end < box.start + 12) return 'damaged';
        fixedSize = b.readUInt32BE(box.start + 4);
        sampleCount = b.readUInt32BE(box.start + 8);
        if (fixedSize === 0) {
          if (box.start + 12 + sampleCount * 4 > box.end) return 'damaged';
          sizes = b.subarray(box.start + 12, box.start + 12 + sampleCount * 4);
        }
      }
    }
    if (!offsets || !stsc || offsets.length === 0) continue; // stz2 or fragmented: not checked
    let sample = 0;
    let entry = 0;
    for (let chunk = 1; chunk <= offsets.length; chunk++) {
      while (entry + 1 < stsc.length && stsc[entry + 1]!.first <= chunk) entry++;
      const perChunk = stsc[entry]?.perChunk ?? 0;
      let bytes = 0;
      for (let k = 0; k < perChunk && sample < sampleCount; k++, sample++) {
        bytes += fixedSize !== 0 ? fixedSize : sizes!.readUInt32BE(sample * 4);
      }
      max = Math.max(max, offsets[chunk - 1]! + bytes);
    }
  }
  return max;
}

/**
 * Every top-level box inside the file, `moov` and `mdat` present, and the sample table pointing only
 * at bytes the file has (this also catches a cut file whose mdat says "to the end of the file").
 */
function checkIsoBmff(b: Buffer, label: string): Integrity {
  let pos = 0;
  let moov: { start: number; end: number } | undefined;
  let mdat = false;
  while (pos < b.length) {
    if (pos + 8 > b.length) {
      if (b.subarray(pos).every((x) => x === 0)) break; // zero padding after the last box
      return bad(`the ${label} ends inside a box header`);
    }
    const head = readBoxHeader(b, pos, b.length);
    if (head === null) return bad(`the ${label} ends inside a box header`);
    if (head.size === 0 && b.subarray(pos).every((x) => x === 0)) break;
    const size = head.size === 0 ? b.length - pos : head.size;
    if (size < head.header) return bad(`the ${label} has a damaged box header at byte ${pos}`);
    if (pos + size > b.length) {
      return bad(
        `the ${label} ends inside its ${printable(head.type)} box (${b.length - pos} of ${size} bytes present)`,
      );
    }
    if (head.type === 'moov') moov = { start: pos + head.header, end: pos + size };
    if (head.type === 'mdat') mdat = true;
    pos += size;
  }
  if (!moov) return bad(`the ${label} has no movie header (moov box)`);
  if (!mdat) return bad(`the ${label} has no media data (mdat box)`);
  const end = sampleDataEnd(b, moov.start, moov.end);
  if (end === 'damaged') return bad(`the ${label}'s sample table is damaged`);
  if (end > b.length) {
    return bad(
      `the ${label}'s sample table points past the end of the file (to byte ${end}, the file has ${b.length} bytes)`,
    );
  }
  return OK;
}

// ---------------------------------------------------------------------------------------------
// Audio
// ---------------------------------------------------------------------------------------------

/** RIFF size and every chunk (the data chunk above all) present; `fmt ` and `data` chunks exist. */
function checkWav(b: Buffer): Integrity {
  if (b.length < 12) return bad('the WAV ends inside its RIFF header');
  const riff = b.readUInt32LE(4);
  // 0 / 0xFFFFFFFF: written to a pipe, the size was never filled in — the data runs to the end.
  const streamed = riff === 0 || riff === 0xffffffff;
  const declared = 8 + riff;
  const end = streamed ? b.length : Math.min(b.length, declared);
  let pos = 12;
  let fmt = false;
  let data = false;
  while (pos + 8 <= end) {
    const id = b.toString('latin1', pos, pos + 4);
    const size = b.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'data') {
      data = true;
      if (size === 0xffffffff || (streamed && size === 0)) break; // streamed: to the end of the file
      if (body + size > b.length)
        return bad(`the WAV ends inside its data chunk (${b.length - body} of ${size} bytes)`);
    } else {
      if (id === 'fmt ') fmt = true;
      if (body + size > end) return bad(`the WAV ends inside its ${printable(id).trim()} chunk`);
    }
    pos = body + size + (size & 1);
  }
  // Tolerated: a missing pad byte after an odd-sized last chunk, and writers that store the file's
  // length itself as the RIFF size (8 too many) when every chunk, data included, is whole.
  if (!streamed && b.length + 1 < declared && !(riff === b.length && data && pos >= b.length)) {
    return bad(`the WAV ends before the size its RIFF header declares (${b.length} of ${declared} bytes)`);
  }
  if (!fmt) return bad('the WAV has no format (fmt) chunk');
  if (!data) return bad('the WAV has no data chunk');
  return OK;
}

/** Skips ID3v2 tags at `pos`; -1 when one runs past the end. */
function skipId3v2(b: Buffer, pos: number): number {
  while (pos + 3 <= b.length && b.toString('latin1', pos, pos + 3) === 'ID3') {
    if (pos + 10 > b.length) return -1;
    const size =
      ((b[pos + 6]! & 0x7f) << 21) | ((b[pos + 7]! & 0x7f) << 14) | ((b[pos + 8]! & 0x7f) << 7) | (b[pos + 9]! & 0x7f);
    const end = pos + 10 + size + (b[pos + 5]! & 0x10 ? 10 : 0);
    if (end > b.length) return -1;
    pos = end;
  }
  return pos;
}

/** Where the audio ends: before trailing ID3v1, Lyrics3v2 and APEv2 tags. */
function audioEnd(b: Buffer): number {
  let end = b.length;
  for (let changed = true; changed; ) {
    changed = false;
    if (end >= 128 && b.toString('latin1', end - 128, end - 125) === 'TAG') {
      end -= 128;
      changed = true;
    }
    if (end >= 32 && b.toString('latin1', end - 32, end - 24) === 'APETAGEX') {
      const size = b.readUInt32LE(end - 20); // tag size including the footer, excluding the header
      const header = b.readUInt32LE(end - 12) & 0x80000000 ? 32 : 0;
      if (size + header <= end) {
        end -= size + header;
        changed = true;
      }
    }
    if (end >= 15 && b.toString('latin1', end - 9, end) === 'LYRICS200') {
      const size = Number(b.toString('latin1', end - 15, end - 9));
      if (Number.isInteger(size) && size + 15 <= end) {
        end -= size + 15;
        changed = true;
      }
    }
  }
  return end;
}

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
function checkMp3(b: Buffer): Integrity | undefined {
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
function checkAdts(b: Buffer): Integrity {
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

function crcTable(poly: number, width: 8 | 16 | 32): Uint32Array {
  const top = 2 ** (width - 1);
  const mask = 2 ** width - 1;
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i * 2 ** (width - 8);
    for (let k = 0; k < 8; k++) r = r >= top ? (((r - top) * 2) ^ poly) >>> 0 : r * 2;
    t[i] = r & mask;
  }
  return t;
}
// Ogg: CRC-32 poly 0x04C11DB7, MSB first, init 0; FLAC: CRC-8 poly 0x07 and CRC-16 poly 0x8005.
const OGG_CRC = crcTable(0x04c11db7, 32);
const CRC8 = crcTable(0x07, 8);
const CRC16 = crcTable(0x8005, 16);

/**
 * Bytes run through a checksum computed in JS (the Ogg CRC-32, the FLAC CRC-8 and CRC-16) since the
 * process started. The tests read it to hold checkOgg and checkFlac to O(headers + tail): checking a
 * 64 MB stream must not cost 64 MB of JS checksum.
 */
export const jsChecksummedBytes = { count: 0 };

function oggCrc(b: Buffer, from: number, to: number, crcAt: number): number {
  jsChecksummedBytes.count += to - from;
  let c = 0;
  for (let i = from; i < to; i++) {
    const byte = i >= crcAt && i < crcAt + 4 ? 0 : b[i]!;
    c = ((c << 8) ^ OGG_CRC[((c >>> 24) ^ byte) & 0xff]!) >>> 0;
  }
  return c;
}

/**
 * The sum of the bytes b[from..to) (an Ogg page's lacing values, ≤ 255 of them), four at a time
 * from `words`, a Uint32Array over b's memory starting `shift` bytes before b (b.byteOffset & 3):
 * a page of 255 lacing values and no body is the cheapest way to make the walk read many bytes.
 */
function lacingSum(b: Buffer, words: Uint32Array, shift: number, from: number, to: number): number {
  let sum = 0;
  let i = from;
  while (i < to && ((i + shift) & 3) !== 0) sum += b[i++]!;
  const last = (to + shift) >> 2;
  let lanes = 0; // two 16-bit lanes, each ≤ 63 words × 510
  for (let w = (i + shift) >> 2; w < last; w++) {
    const x = words[w]!;
    lanes += (x & 0x00ff00ff) + ((x >>> 8) & 0x00ff00ff);
  }
  sum += (lanes & 0xffff) + (lanes >>> 16);
  for (i = Math.max(i, last * 4 - shift); i < to; i++) sum += b[i]!;
  return sum;
}

/** How many end-of-stream pages checkOgg verifies the CRC of, the last ones (a chained file has one per link). */
const OGG_EOS_PAGES_CHECKED = 64;
/** More logical streams than a real file has, even a long chained recording (one per song). */
const OGG_MAX_STREAMS = 65536;

/**
 * Pages walked header to header (capture pattern, lacing values, body length), each starting where
 * the last one ends, up to the end of the file; every logical stream must end with an end-of-stream
 * page. A file cut short ends inside a page or before an end-of-stream page. The CRC is verified only
 * for the end-of-stream pages (the last 64 of them in a chained file with more): the tail, where an
 * interrupted upload shows. Cost: O(pages) plus at most 64 pages (≤ 4 MB) of CRC, never O(bytes).
 * Not detected: a byte changed inside the body of a middle page (its lengths still add up), like
 * damage to the data of an MP3, AAC, WAV or MP4, whose walkers check no checksum at all. A changed
 * capture pattern or lacing value in a middle page usually derails the walk and is detected.
 */
function checkOgg(b: Buffer): Integrity {
  const streams = new Map<number, boolean>(); // serial → ended
  let open = 0; // streams begun and not ended
  let openSerial = -1; // the previous page's serial when its stream is open: the same again needs no lookup
  // The last end-of-stream pages, in a ring: [page number, start, end] × OGG_EOS_PAGES_CHECKED.
  const eos = new Array<number>(3 * OGG_EOS_PAGES_CHECKED).fill(0);
  let eosPages = 0;
  const shift = b.byteOffset & 3;
  const words = new Uint32Array(b.buffer, b.byteOffset - shift, (b.length + shift) >> 2);
  let pos = 0;
  let page = 0;
  while (pos < b.length) {
    // 'OggS'
    if (b.length - pos < 4 || b[pos] !== 0x4f || b[pos + 1] !== 0x67 || b[pos + 2] !== 0x67 || b[pos + 3] !== 0x53) {
      if (page > 0 && open === 0) break; // data after the last stream ended is ignored by players
      if ('OggS'.startsWith(b.toString('latin1', pos, Math.min(b.length, pos + 4)))) {
        return bad('the Ogg file ends inside the header of its last page');
      }
      return bad(`the Ogg file is damaged at byte ${pos} (no page starts there)`);
    }
    if (pos + 27 > b.length) return bad('the Ogg file ends inside the header of its last page');
    const segments = b[pos + 26]!;
    const lacing = pos + 27;
    if (lacing + segments > b.length) return bad('the Ogg file ends inside the header of its last page');
    let body = 0;
    if (segments > 32) body = lacingSum(b, words, shift, lacing, lacing + segments);
    else for (let i = lacing; i < lacing + segments; i++) body += b[i]!;
    const end = lacing + segments + body;
    if (end > b.length) return bad(`the Ogg file ends inside its last page (${b.length - pos} of ${end - pos} bytes)`);
    const flags = b[pos + 5]!;
    const serial = (b[pos + 14]! | (b[pos + 15]! << 8) | (b[pos + 16]! << 16) | (b[pos + 17]! << 24)) >>> 0;
    if (serial !== openSerial || flags & 6) {
      const ended = streams.get(serial);
      // A stream begins — also without its beginning-of-stream flag (a capture that starts mid-stream).
      if (ended === undefined || (flags & 2 && ended)) {
        if (ended === undefined && streams.size >= OGG_MAX_STREAMS) {
          return bad(`the Ogg file is damaged (more than ${OGG_MAX_STREAMS} logical streams)`);
        }
        streams.set(serial, false);
        open++;
      }
      openSerial = serial;
      if (flags & 4) {
        if (streams.get(serial) === false) {
          streams.set(serial, true);
          open--;
        }
        openSerial = -1;
        const slot = 3 * (eosPages++ % OGG_EOS_PAGES_CHECKED);
        eos[slot] = page;
        eos[slot + 1] = pos;
        eos[slot + 2] = end;
      } else if (streams.get(serial) === true) {
        openSerial = -1; // a page after its stream ended: ignored
      }
    }
    page++;
    pos = end;
  }
  for (let k = Math.max(0, eosPages - OGG_EOS_PAGES_CHECKED); k < eosPages; k++) {
    const slot = 3 * (k % OGG_EOS_PAGES_CHECKED);
    const at = eos[slot + 1]!;
    if (oggCrc(b, at, eos[slot + 2]!, at + 22) !== b.readUInt32LE(at + 22)) {
      return bad(`the Ogg file's page ${eos[slot]} (at byte ${at}) fails its CRC check`);
    }
  }
  if (page === 0) return bad('the Ogg file has no pages');
  if (open > 0) return bad('the Ogg file ends before its last page (no end-of-stream page)');
  return OK;
}

function crc8(b: Buffer, from: number, to: number): number {
  jsChecksummedBytes.count += to - from;
  let c = 0;
  for (let i = from; i < to; i++) c = CRC8[c ^ b[i]!]!;
  return c;
}

function crc16(b: Buffer, from: number, to: number): number {
  jsChecksummedBytes.count += to - from;
  let c = 0;
  for (let i = from; i < to; i++) c = ((c << 8) ^ CRC16[(c >> 8) ^ b[i]!]!) & 0xffff;
  return c;
}

/** a·b modulo the CRC-16 polynomial x¹⁶ + x¹⁵ + x² + 1 (polynomials over GF(2), 16-bit values). */
function crc16MulMod(a: number, b: number): number {
  let r = 0;
  for (let bit = 0x8000; bit > 0; bit >>= 1) {
    r = r & 0x8000 ? ((r << 1) ^ 0x8005) & 0xffff : (r << 1) & 0xffff;
    if (b & bit) r ^= a;
  }
  return r;
}

/**
 * The CRC-16 register `crc` carried on through `n` zero bytes (crc · x^8n mod the polynomial), in
 * O(log n) steps. The FLAC CRC-16 (init 0, no final XOR) is linear, so the CRC of A followed by B is
 * crc16Shift(crc(A), |B|) ^ crc(B): the CRC from an earlier candidate header to the end reuses the
 * one from the later candidate instead of running over its bytes again.
 */
function crc16Shift(crc: number, n: number): number {
  let power = 0x100; // x^8: one zero byte
  for (; n > 0 && crc !== 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) crc = crc16MulMod(crc, power);
    power = crc16MulMod(power, power);
  }
  return crc;
}

interface FlacFrameHeader {
  firstSample: number;
  blockSize: number;
  /** Bytes of the header, its CRC-8 included. */
  length: number;
}

/** A FLAC frame header at `p` whose CRC-8 checks: its first sample, block size and length. */
function flacFrameHeader(b: Buffer, p: number, fixedBlock: number): FlacFrameHeader | null {
  if (p + 6 > b.length || b[p] !== 0xff || (b[p + 1]! & 0xfe) !== 0xf8) return null;
  const variable = b[p + 1]! & 1;
  const blockCode = b[p + 2]! >> 4;
  const rateCode = b[p + 2]! & 0xf;
  const channels = b[p + 3]! >> 4;
  const depth = (b[p + 3]! >> 1) & 7;
  if (blockCode === 0 || rateCode === 15 || channels >= 11 || depth === 3 || b[p + 3]! & 1) return null;
  // Frame or sample number, UTF-8 coded (1–7 bytes).
  let q = p + 4;
  const lead = b[q]!;
  let extra = 0;
  while (extra < 8 && lead & (0x80 >> extra)) extra++;
  if (extra === 1 || extra > 7) return null;
  const n = extra === 0 ? 1 : extra;
  if (q + n > b.length) return null;
  let number = extra === 0 ? lead : lead & (0xff >> (extra + 1));
  for (let i = 1; i < n; i++) {
    const c = b[q + i]!;
    if ((c & 0xc0) !== 0x80) return null;
    number = number * 64 + (c & 0x3f);
  }
  q += n;
  let blockSize: number;
  if (blockCode === 1) blockSize = 192;
  else if (blockCode <= 5) blockSize = 576 << (blockCode - 2);
  else if (blockCode === 6) blockSize = (b[q++] ?? 0) + 1;
  else if (blockCode === 7) {
    blockSize = (((b[q] ?? 0) << 8) | (b[q + 1] ?? 0)) + 1;
    q += 2;
  } else blockSize = 256 << (blockCode - 8);
  if (rateCode === 12) q += 1;
  else if (rateCode === 13 || rateCode === 14) q += 2;
  if (q + 1 > b.length || crc8(b, p, q) !== b[q]) return null;
  return { firstSample: variable ? number : number * fixedBlock, blockSize, length: q + 1 - p };
}

/**
 * More than the longest FLAC frame there can be (~2.16 MB): 65535 samples × 8 channels × 33 bits (the
 * widest subframe, the side channel of 32-bit audio) stored verbatim, plus frame and subframe headers.
 * The last-frame search never looks further back than this, whatever STREAMINFO says.
 */
const FLAC_MAX_FRAME = 2_200_000;
/** How many frame headers (sync code and CRC-8 right) the last-frame search tries at most. */
const FLAC_LAST_FRAME_CANDIDATES = 32;
/**
 * More metadata blocks than any encoder or tagger writes (STREAMINFO, SEEKTABLE, VORBIS_COMMENT,
 * PADDING, a few PICTUREs…); 100 MB of empty 4-byte blocks would take the walk ~0.1 s.
 */
const FLAC_MAX_METADATA_BLOCKS = 4096;

/**
 * Metadata blocks complete (STREAMINFO first) and a frame header right after them (sync code, CRC-8).
 * Then the LAST frame: frames declare no length, so it is found by searching backward from the end
 * of the audio, no further than STREAMINFO's maximum frame size (+ 16), for a frame header whose
 * CRC-8 checks and from which the CRC-16 to the end of the audio is 0 — the frame's own checksum
 * closes exactly there. A file cut inside a frame (or whose last frame is damaged) has no such
 * header; one cut between two frames is caught by STREAMINFO's total sample count, which the last
 * frame must reach. Cost: the metadata block headers plus at most one maximum frame size of CRC-16
 * and 32 candidate headers, never O(bytes).
 * Not detected: a byte changed inside a middle frame (the old walk took every frame's CRC-16, at
 * ~270 MB/s in JS), like damage to the data of an MP3, AAC, WAV or MP4, whose walkers check no
 * checksum at all.
 */
function checkFlac(b: Buffer): Integrity {
  let pos = skipId3v2(b, 0);
  if (pos < 0) return bad('the FLAC ends inside its ID3v2 tag');
  if (b.toString('latin1', pos, pos + 4) !== 'fLaC') return bad('the FLAC signature is damaged');
  pos += 4;
  let totalSamples = 0;
  let fixedBlock = 0;
  let maxFrame = 0;
  for (let blocks = 0; ; blocks++) {
    if (pos + 4 > b.length) return bad('the FLAC ends inside its metadata');
    if (blocks === FLAC_MAX_METADATA_BLOCKS)
      return bad(`the FLAC is damaged (more than ${FLAC_MAX_METADATA_BLOCKS} metadata blocks)`);
    const first = blocks === 0;
    const last = b[pos]! & 0x80;
    const type = b[pos]! & 0x7f;
    const length = (b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!;
    if (type === 127 || (first && (type !== 0 || length !== 34))) return bad('the FLAC has a damaged STREAMINFO block');
    if (pos + 4 + length > b.length) return bad('the FLAC ends inside its metadata');
    if (type === 0) {
      const s = pos + 4;
      fixedBlock = b.readUInt16BE(s + 2);
      maxFrame = b.readUIntBE(s + 7, 3);
      totalSamples = (b[s + 13]! & 0x0f) * 2 ** 32 + b.readUInt32BE(s + 14);
    }
    pos += 4 + length;
    if (last) break;
  }
  if (flacFrameHeader(b, pos, fixedBlock) === null) return bad('the FLAC has no audio frames');
  const end = audioEnd(b);
  const lowest = end - Math.min(end - pos, maxFrame > 0 ? maxFrame + 16 : FLAC_MAX_FRAME, FLAC_MAX_FRAME);
  let last: FlacFrameHeader | undefined;
  let tried = 0;
  let from = end; // the last candidate tried; `tail` is the CRC-16 of [from, end)
  let tail = 0;
  // A frame is at least its header (≥ 6 bytes), one subframe byte and its CRC-16.
  for (let p = end - 9; p >= lowest && tried < FLAC_LAST_FRAME_CANDIDATES; p--) {
    if (b[p] !== 0xff || (b[p + 1]! & 0xfe) !== 0xf8) continue;
    const header = flacFrameHeader(b, p, fixedBlock);
    if (header === null || p + header.length + 3 > end) continue;
    tried++;
    tail = crc16Shift(crc16(b, p, from), end - from) ^ tail;
    from = p;
    if (tail === 0) {
      last = header;
      break;
    }
  }
  if (last === undefined) return bad('the FLAC ends inside its last audio frame');
  const present = last.firstSample + last.blockSize;
  if (totalSamples > 0 && present < totalSamples) {
    return bad(`the FLAC ends early (${present} of the ${totalSamples} samples its STREAMINFO declares)`);
  }
  return OK;
}
