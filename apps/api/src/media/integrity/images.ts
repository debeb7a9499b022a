/** Integrity walkers for the image formats: PNG, JPEG, WebP, GIF. */
import { crc32 } from 'node:zlib';
import { bad, type Integrity, OK } from './result.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Every chunk (length, type, data, CRC) up to and including IEND; an IHDR first, an IDAT somewhere. */
export function checkPng(b: Buffer): Integrity {
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
export function checkJpeg(b: Buffer): Integrity {
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
export function checkWebp(b: Buffer): Integrity {
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
export function checkGif(b: Buffer): Integrity {
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
