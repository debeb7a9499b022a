import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { sendJson } from '@clipwire/providers';
import parseRange from 'range-parser';
import type { ObjectStore } from '../storage/object-store.js';
import type { OutputLinks } from './links.js';

/** Served instead of an archived output the retention policy (or deleteTask) removed. */
export const OUTPUT_GONE_MESSAGE =
  'this output is no longer kept by Clipwire: it was deleted by the retention policy (OUTPUT_RETENTION_DAYS) or with its task';

/**
 * GET/HEAD `/outputs/{key…}?sig=…`: an archived output from the store, streamed, with single-range
 * `Range` requests (players seek with them), as `/media` (http/media.ts). A valid link whose object is
 * gone answers 410.
 */
export async function serveArchivedOutput(
  store: ObjectStore,
  links: OutputLinks,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const sig = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sig');
  const key = links.keyOf(path, sig);
  if (!key) return sendJson(res, 403, { error: 'invalid link' });
  const head = await store.head(key);
  if (!head) return sendJson(res, 410, { error: OUTPUT_GONE_MESSAGE });
  const base = {
    'content-type': head.contentType,
    'accept-ranges': 'bytes',
    'cache-control': 'private, max-age=3600',
    'x-content-type-options': 'nosniff',
  };
  // As /media: one range is served (206), one past the end is 416, several or a malformed header get the whole.
  const parsed = req.headers.range ? parseRange(head.sizeBytes, req.headers.range, { combine: true }) : undefined;
  if (parsed === -1) {
    return sendJson(res, 416, { error: 'range not satisfiable' }, { 'content-range': `bytes */${head.sizeBytes}` });
  }
  const range = Array.isArray(parsed) && parsed.type === 'bytes' && parsed.length === 1 ? parsed[0] : undefined;
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...base, 'content-length': head.sizeBytes });
    return void res.end();
  }
  const object = await store.get(key, range && { start: range.start, end: range.end });
  if (!object) return sendJson(res, 410, { error: OUTPUT_GONE_MESSAGE });
  if (object.range) {
    const { start, end } = object.range;
    res.writeHead(206, {
      ...base,
      'content-range': `bytes ${start}-${end}/${object.sizeBytes}`,
      'content-length': end - start + 1,
    });
  } else {
    res.writeHead(200, { ...base, 'content-length': object.sizeBytes });
  }
  await pipeline(object.body, res).catch(() => res.destroy());
}
