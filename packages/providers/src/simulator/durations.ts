import { parseBuffer } from 'music-metadata';

/*
 * How long an input lasts, read from its bytes as a provider would (the outputs follow it): MP4/MOV
 * from the movie header (mvhd), audio through music-metadata. Null when it cannot be told.
 */

/** Seconds of an MP4/MOV from its moov/mvhd; null when there is none. */
function movieSeconds(b: Buffer): number | null {
  const find = (type: string, from: number, to: number): { body: number; end: number } | null => {
    for (let p = from; p + 8 <= to; ) {
      let size = b.readUInt32BE(p);
      let header = 8;
      if (size === 1 && p + 16 <= to) {
        size = Number(b.readBigUInt64BE(p + 8));
        header = 16;
      } else if (size === 0) size = to - p;
      if (size < header) return null;
      if (b.toString('latin1', p + 4, p + 8) === type) return { body: p + header, end: Math.min(to, p + size) };
      p += size;
    }
    return null;
  };
  const moov = find('moov', 0, b.length);
  const mvhd = moov && find('mvhd', moov.body, moov.end);
  if (!mvhd || mvhd.body + 32 > mvhd.end) return null;
  const v1 = b[mvhd.body] === 1;
  const scale = b.readUInt32BE(mvhd.body + (v1 ? 20 : 12));
  const units = v1 ? Number(b.readBigUInt64BE(mvhd.body + 24)) : b.readUInt32BE(mvhd.body + 16);
  return scale > 0 && units > 0 ? units / scale : null;
}

/** Seconds of a video or audio input; null when unknown (not media, or no duration in it). */
export async function mediaSeconds(bytes: Buffer): Promise<number | null> {
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp') {
    const s = movieSeconds(bytes);
    if (s !== null) return s;
  }
  try {
    const meta = await parseBuffer(bytes, { size: bytes.length }, { duration: true, skipCovers: true });
    const d = meta.format.duration;
    return d !== undefined && Number.isFinite(d) && d > 0 ? d : null;
  } catch {
    return null;
  }
}

/**
 * How long `text` takes to say, for a voice that speaks it (the reseller's cloned and stock voices):
 * about 4 CJK characters or 15 other characters a second, at least 1 s.
 */
export function speechSeconds(text: string): number {
  const cjk = (text.match(/[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]/g) ?? []).length;
  const other = [...text].length - cjk;
  return Math.max(1, Math.round((cjk / 4 + other / 15) * 1000) / 1000);
}

let warmed: Promise<void> | undefined;

/**
 * Loads music-metadata's parsers for every format the simulator measures, once per process: each
 * is imported on its first use, which would otherwise hold the event loop in the middle of a task.
 */
export function warmDurations(samples: Buffer[]): Promise<void> {
  warmed ??= Promise.all(samples.map((b) => mediaSeconds(b))).then(() => undefined);
  return warmed;
}
