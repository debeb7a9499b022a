import { sendJson } from '@clipwire/providers';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import parseRange from 'range-parser';
import type { MediaStore } from '../media/store.js';
import { RangeNotSatisfiableError } from '../storage/metering.js';

/**
 * Stored inputs, for providers that only take URLs: the link is signed and expires. The bytes stream
 * from the object store; one `Range` (`bytes=a-b`, `a-`, `-n`) answers 206 with that part, one past the
 * end 416; several ranges, or a malformed header, get the whole object (RFC 9110 allows ignoring Range).
 * Media deleted by retention or by the task's erasure answer 410.
 */
export async function serveMedia(
  media: MediaStore,
  id: string,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const verdict = media.verify(id, query.get('exp'), query.get('sig'));
  if (verdict !== 'ok') return sendJson(res, 403, { error: verdict === 'expired' ? 'link expired' : 'invalid link' });
  const row = await media.get(id);
  if (!row) return sendJson(res, 404, { error: 'not found' });
  const gone = () =>
    sendJson(res, 410, {
      error:
        'media deleted: inputs are deleted once their task is final and past the retention period, or when the task is deleted',
    });
  if (row.deletedAt) return gone();

  const header = req.headers.range;
  const parsed = header ? parseRange(row.sizeBytes, header, { combine: true }) : undefined;
  if (parsed === -1) {
    return sendJson(res, 416, { error: 'range not satisfiable' }, { 'content-range': `bytes */${row.sizeBytes}` });
  }
  const one = Array.isArray(parsed) && parsed.type === 'bytes' && parsed.length === 1 ? parsed[0] : undefined;
  let opened: Awaited<ReturnType<MediaStore['open']>>;
  try {
    opened = await media.open(row, one && { start: one.start, end: one.end });
  } catch (error) {
    if (!(error instanceof RangeNotSatisfiableError)) throw error;
    return sendJson(res, 416, { error: 'range not satisfiable' }, { 'content-range': `bytes */${error.sizeBytes}` });
  }
  if (!opened) return sendJson(res, 404, { error: 'not found' });
  if ('gone' in opened) return gone();
  const { body, sizeBytes, contentType, range } = opened.body;
  res.writeHead(range ? 206 : 200, {
    'content-type': contentType,
    'content-length': range ? range.end - range.start + 1 : sizeBytes,
    'accept-ranges': 'bytes',
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${sizeBytes}` } : {}),
    'cache-control': 'private, max-age=3600',
    'x-content-type-options': 'nosniff',
  });
  if (method === 'HEAD') {
    body.destroy();
    res.end();
    return;
  }
  // A client that goes away mid-download ends the pipeline with an error: nothing to answer then.
  await pipeline(body, res).catch(() => {});
}
