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
import { checkIsoBmff } from './integrity/iso-bmff.js';
import { checkGif, checkJpeg, checkPng, checkWebp } from './integrity/images.js';
import { checkFlac } from './integrity/flac.js';
import { checkAdts, checkMp3 } from './integrity/mpeg-audio.js';
import { checkOgg } from './integrity/ogg.js';
import type { Integrity } from './integrity/result.js';
import { checkWav } from './integrity/wav.js';
import { ISO_BMFF_MIMES } from './iso-bmff.js';

export { jsChecksummedBytes } from './integrity/checksums.js';
export { checkIsoBmffPrefix } from './integrity/iso-bmff.js';
export type { Integrity } from './integrity/result.js';

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
