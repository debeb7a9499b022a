import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { sendJson } from '@clipwire/providers';
import type { ObjectStore } from '../storage/object-store.js';
import type { OutputLinks } from './links.js';

/** Served instead of an archived output the retention policy (or deleteTask) removed. */
export const OUTPUT_GONE_MESSAGE =
  'this output is no longer kept by Clipwire: it was deleted by the retention policy (OUTPUT_RETENTION_DAYS) or with its task';

/**
 * GET/HEAD `/outputs/{key…}?sig=…`: an archived output from the store, streamed, with single-range
 * `Range` requests (players seek with them). A valid link whose object is gone answers 410.
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
  const range = parseRange(req.headers.range, head.sizeBytes);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...base, 'content-range': `bytes */${head.sizeBytes}`, 'content-length': 0 });
    return void res.end();
  }
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...base, 'content-length': head.sizeBytes });
    return void res.end();
  }
  const object = await store.get(key, range ?? undefined);
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

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range, clamped to the size; null for none (or a form not supported: the whole file). */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  const start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start <= end && start < size ? { start, end } : 'unsatisfiable';
}
