import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OutputLinks } from './output-links.js';
import { sendJson, sendBytes, type SimHandler } from './server.js';
import { mp3OfDuration, mp4OfDuration, wavOfDuration } from './synth.js';

/** packages/providers/media: the committed sample output video(s) the simulator serves. */
export const mediaDir = fileURLToPath(new URL('../../media', import.meta.url));

/** packages/providers/media/fixtures: real input files (portrait-512x640.png, speech-3s.mp3) for tests. */
export const fixturesDir = fileURLToPath(new URL('../../media/fixtures', import.meta.url));

const loaded = new Map<string, Buffer>();

/** `<sample>-<ms>ms.<ext>`: the sample made to last that many milliseconds (synth.ts). */
const SIZED = /^(.+)-(\d{1,6})ms\.(mp4|mp3|wav)$/;
/** The longest output made (10 min: every documented input is shorter). */
const MAX_SIZED_MS = 600_000;
/** Bytes of made files kept (a 10-minute video is about 12 MB), the least recently made dropped first. */
const MAX_MADE_BYTES = 64 * 1024 * 1024;

/**
 * The file name of `file` (a committed sample) made to last `seconds`, or the sample itself when the
 * length is unknown (null).
 */
export function sizedFile(file: string, seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds <= 0) return file;
  const ms = Math.min(MAX_SIZED_MS, Math.max(1, Math.round(seconds * 1000)));
  return file.replace(/\.(mp4|mp3|wav)$/, `-${ms}ms.$1`);
}

/** The committed sample a (possibly sized) file name is made from. */
function sampleOf(file: string): string {
  const m = SIZED.exec(file);
  return m ? `${m[1]}.${m[3]}` : file;
}

/** A committed sample under mediaDir, read once; a sized name (see sizedFile) is made from its sample and cached. */
export async function readMedia(file: string): Promise<Buffer> {
  let data = loaded.get(file);
  if (!data) {
    const m = SIZED.exec(file);
    if (m && Number(m[2]) <= MAX_SIZED_MS && Number(m[2]) > 0) {
      const sample = await readMedia(`${m[1]}.${m[3]}`);
      const seconds = Number(m[2]) / 1000;
      data =
        m[3] === 'mp4'
          ? mp4OfDuration(sample, seconds)
          : m[3] === 'mp3'
            ? mp3OfDuration(sample, seconds).bytes
            : wavOfDuration(sample, seconds);
      let kept = data.length;
      for (const [name, bytes] of [...loaded.entries()].reverse()) {
        if (!SIZED.test(name)) continue;
        kept += bytes.length;
        if (kept > MAX_MADE_BYTES) loaded.delete(name);
      }
    } else {
      data = await readFile(join(mediaDir, file));
    }
    loaded.set(file, data);
  }
  return data;
}

/**
 * GET /media/<provider>/:file: the samples named in `types` (file → content type), and each made to
 * a length (`sizedFile`); others get `notFound`; an expired or unsigned link (when outputs have a
 * lifetime) is refused by `links`.
 */
export function mediaRoute(
  types: Record<string, string>,
  notFound: (res: ServerResponse) => void,
  links: OutputLinks,
): SimHandler {
  return async (req, res) => {
    const file = req.params['file'] ?? '';
    const m = SIZED.exec(file);
    const type = types[sampleOf(file)];
    if (type === undefined || (m && (Number(m[2]) > MAX_SIZED_MS || Number(m[2]) === 0))) {
      notFound(res);
      return;
    }
    const refusal = links.refusal(req);
    if (refusal) {
      sendJson(res, refusal.status, { error: refusal.message });
      return;
    }
    sendBytes(req, res, await readMedia(file), type);
  };
}
