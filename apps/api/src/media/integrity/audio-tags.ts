/**
 * The tags around compressed audio (ID3v2 before it; ID3v1, Lyrics3v2, APEv2 after it), as the MP3,
 * AAC and FLAC walkers skip them.
 */

/** Skips ID3v2 tags at `pos`; -1 when one runs past the end. */
export function skipId3v2(b: Buffer, pos: number): number {
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
export function audioEnd(b: Buffer): number {
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
