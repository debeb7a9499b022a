/** Integrity walker for Ogg (Vorbis, Opus, FLAC-in-Ogg …; chained files included). */
import { oggCrc } from './checksums.js';
import { bad, type Integrity, OK } from './result.js';

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
export function checkOgg(b: Buffer): Integrity {
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
