import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OutputLinks } from './output-links.js';
import { sendJson, sendBytes, type SimHandler } from './server.js';

/** packages/providers/media: the committed sample output video(s) the simulator serves. */
export const mediaDir = fileURLToPath(new URL('../../media', import.meta.url));

/** packages/providers/media/fixtures: real input files (portrait-512x640.png, speech-3s.mp3) for tests. */
export const fixturesDir = fileURLToPath(new URL('../../media/fixtures', import.meta.url));

const loaded = new Map<string, Buffer>();

/** A committed sample under mediaDir, read once. */
export async function readMedia(file: string): Promise<Buffer> {
  let data = loaded.get(file);
  if (!data) {
    data = await readFile(join(mediaDir, file));
    loaded.set(file, data);
  }
  return data;
}

/**
 * GET /media/<provider>/:file: the samples named in `types` (file → content type); others get
 * `notFound`; an expired or unsigned link (when outputs have a lifetime) is refused by `links`.
 */
export function mediaRoute(
  types: Record<string, string>,
  notFound: (res: ServerResponse) => void,
  links: OutputLinks,
): SimHandler {
  return async (req, res) => {
    const file = req.params['file'] ?? '';
    const type = types[file];
    if (type === undefined) {
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
