/**
 * The ISO base media file format's boxes (mp4, mov, m4a), as probe.ts (duration, frame size) and
 * integrity/iso-bmff.ts (every box present, sample tables inside the file) walk them.
 */

export const ISO_BMFF_MIMES: ReadonlySet<string> = new Set([
  'video/mp4',
  'video/quicktime',
  'audio/x-m4a',
  'audio/mp4',
  'video/x-m4v',
]);

/**
 * The header of the box at `pos`: size 0 means "to the end of the file"; a 64-bit size beyond
 * Number.MAX_SAFE_INTEGER reads as that; null when a 64-bit size is cut off by `to`.
 */
export function readBoxHeader(
  b: Buffer,
  pos: number,
  to: number,
): { size: number; header: number; type: string } | null {
  const size = b.readUInt32BE(pos);
  const type = b.toString('latin1', pos + 4, pos + 8);
  if (size !== 1) return { size, header: 8, type };
  if (pos + 16 > to) return null;
  const big = b.readBigUInt64BE(pos + 8);
  return { size: big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big), header: 16, type };
}

export interface Box {
  type: string;
  /** Payload start and end (end clipped to `to` when the box runs past it). */
  start: number;
  end: number;
  /** The box runs past `to`. */
  truncated: boolean;
}

/** The boxes of [from, to), in order; stops at a damaged or cut-off header. */
export function* boxes(b: Buffer, from: number, to: number): Generator<Box> {
  let pos = from;
  while (pos + 8 <= to) {
    const head = readBoxHeader(b, pos, to);
    if (head === null) return;
    const size = head.size === 0 ? to - pos : head.size;
    if (size < head.header) return;
    yield { type: head.type, start: pos + head.header, end: Math.min(pos + size, to), truncated: pos + size > to };
    pos += size;
  }
}
