/** Integrity walkers for the ISO base media file format (mp4, mov, m4a): whole files and Range prefixes. */
import { boxes, ISO_BMFF_MIMES, readBoxHeader } from '../iso-bmff.js';
import { bad, type Integrity, OK, printable } from './result.js';

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
export function checkIsoBmff(b: Buffer, label: string): Integrity {
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
