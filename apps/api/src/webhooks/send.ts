import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { validateFetchUrl, type SafeAgent } from '../media/safe-fetch.js';
import { storable } from '../text.js';

/** How much of a receiver's answer is kept with an attempt. */
export const RESPONSE_EXCERPT_BYTES = 1024;
/** How much of an answer is read at most (the rest is dropped with the connection). */
const RESPONSE_READ_BYTES = 64 * 1024;

export interface SendSettings {
  dispatcher: SafeAgent;
  timeoutMs: number;
}

/** One signed POST to a receiver. */
export interface SignedMessage {
  url: string;
  /** The `webhook-id`: the event's (`evt_<event id>`), the same on every retry and redelivery. */
  msgId: string;
  body: string;
  /** The tenant's active signing secrets: one signature each (two during a rotation). */
  secrets: string[];
}

/** What one attempt found: the receiver's status and the first 1 KiB of its answer, or why there was none. */
export interface AttemptResult {
  attemptedAt: Date;
  ok: boolean;
  httpStatus: number | null;
  durationMs: number;
  responseExcerpt: string | null;
  error: string | null;
}

/**
 * Signs (Standard Webhooks, with a fresh timestamp) and posts a message through the SSRF-safe
 * dispatcher, without following redirects. Never throws: a refused URL, a connection error or a
 * timeout is the attempt's `error`.
 */
export async function sendSigned(message: SignedMessage, settings: SendSettings): Promise<AttemptResult> {
  const attemptedAt = new Date();
  const started = performance.now();
  const signature = message.secrets.map((s) => new Webhook(s).sign(message.msgId, attemptedAt, message.body)).join(' ');
  let httpStatus: number | null = null;
  let responseExcerpt: string | null = null;
  let error: string | null = null;
  try {
    validateFetchUrl(message.url, settings.dispatcher.allowOrigins);
    const res = await request(message.url, {
      method: 'POST',
      dispatcher: settings.dispatcher,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Clipwire-Webhooks/1',
        'webhook-id': message.msgId,
        'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body: message.body,
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    httpStatus = res.statusCode;
    responseExcerpt = await readExcerpt(res.body).catch(() => null);
    if (httpStatus < 200 || httpStatus >= 300) error = `receiver answered HTTP ${httpStatus}`;
  } catch (failure) {
    error = failure instanceof Error ? failure.message : String(failure);
  }
  const durationMs = Math.round(performance.now() - started);
  return { attemptedAt, ok: error === null, httpStatus, durationMs, responseExcerpt, error: error && storable(error) };
}

/** The first RESPONSE_EXCERPT_BYTES of a body as text (null when empty); reads at most RESPONSE_READ_BYTES. */
async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string | null> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let total = 0;
  for await (const chunk of body) {
    if (keptBytes < RESPONSE_EXCERPT_BYTES) {
      const part = chunk.subarray(0, RESPONSE_EXCERPT_BYTES - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
    total += chunk.length;
    if (total >= RESPONSE_READ_BYTES) {
      body.destroy();
      break;
    }
  }
  if (keptBytes === 0) return null;
  // A multi-byte character cut at the limit decodes as U+FFFD; text Postgres cannot store is replaced.
  return storable(Buffer.concat(kept).toString('utf8'));
}
