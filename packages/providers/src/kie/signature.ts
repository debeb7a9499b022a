import { createHmac, timingSafeEqual } from 'node:crypto';

export interface VerifyKieSignatureInput {
  /** The taskId of the callback body (`data.taskId`). */
  taskId: string;
  /** The X-Webhook-Timestamp header: unix seconds (ms tolerated). */
  timestampHeader: string | string[] | undefined | null;
  /** The X-Webhook-Signature header: base64(HMAC-SHA256(taskId + "." + timestamp, hmacKey)). */
  signatureHeader: string | string[] | undefined | null;
  hmacKey: string;
  /** Clock, ms since epoch. Default Date.now(). */
  nowMs?: number;
  /** Accepted clock difference either way. Default 300 s. */
  toleranceSec?: number;
}

/** The signature KIE sends for a callback: base64(HMAC-SHA256(`${taskId}.${timestamp}`, hmacKey)). */
export function signKieCallback(taskId: string, timestamp: string, hmacKey: string): string {
  return createHmac('sha256', hmacKey).update(`${taskId}.${timestamp}`).digest('base64');
}

const first = (v: string | string[] | undefined | null): string | undefined =>
  Array.isArray(v) ? v[0] : (v ?? undefined);

/**
 * Verifies KIE's optional callback signature, in constant time, and rejects timestamps more than
 * `toleranceSec` away from now (replays). It binds the taskId, not the body: after it passes,
 * still re-read recordInfo before trusting a result.
 */
export function verifyKieSignature(input: VerifyKieSignatureInput): boolean {
  const timestamp = first(input.timestampHeader)?.trim();
  const signature = first(input.signatureHeader)?.trim();
  if (!timestamp || !signature || !input.taskId || !input.hmacKey) return false;
  if (!/^\d{1,16}$/.test(timestamp)) return false;
  const raw = Number(timestamp);
  const tsMs = raw < 1e12 ? raw * 1000 : raw;
  const nowMs = input.nowMs ?? Date.now();
  if (Math.abs(nowMs - tsMs) > (input.toleranceSec ?? 300) * 1000) return false;
  const expected = Buffer.from(signKieCallback(input.taskId, timestamp, input.hmacKey), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // timingSafeEqual needs equal lengths; compare against itself to keep the timing flat.
  if (given.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(given, expected);
}
