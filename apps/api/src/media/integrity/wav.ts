/** Integrity walker for WAV (RIFF/WAVE). */
import { bad, type Integrity, OK, printable } from './result.js';

/** RIFF size and every chunk (the data chunk above all) present; `fmt ` and `data` chunks exist. */
export function checkWav(b: Buffer): Integrity {
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
