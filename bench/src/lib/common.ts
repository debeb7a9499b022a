import { createHash } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { klingCallbackHeaders } from '../../../packages/providers/src/kling/signature.js';

/** The deterministic task id the seeding SQL gives row `i` of a batch: md5(prefix || i) as a uuid. */
export function seededId(prefix: string, i: number): string {
  const h = createHash('md5').update(`${prefix}${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The callback token of seeded row `i` (the seeding SQL stores its sha256). */
export function seededToken(prefix: string, i: number): string {
  return `${prefix}tok${i}`.padEnd(24, 'x');
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarize(values: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pothos relay global id of a task. */
export function taskGlobalId(id: string): string {
  return Buffer.from(`Task:${id}`).toString('base64');
}

/** A Kling callback body for a task the simulator reports 'processing' (the shape the simulator sends). */
export function klingCallbackBody(taskId: string, klingTaskId: string, status = 'processing'): string {
  const now = Date.now();
  return JSON.stringify({
    task_id: klingTaskId,
    task_status: status,
    task_status_msg: '',
    task_info: { external_task_id: taskId },
    created_at: now,
    updated_at: now,
    watermark_info: { enabled: false },
  });
}

/**
 * The bench runs Kling with callback signing on (KLING_WEBHOOK_SECRET, Kling's opt-in Standard
 * Webhooks signature), as a production deployment would: each callback is signed when it is sent.
 */
export const KLING_WEBHOOK_SECRET = `whsec_${Buffer.from('clipwire-bench-kling-webhook-key!').toString('base64')}`;
const klingSigner = new Webhook(KLING_WEBHOOK_SECRET);

/** Standard Webhooks headers for a Kling callback body, signed now. */
export function klingSignatureHeaders(body: string): Record<string, string> {
  return klingCallbackHeaders(klingSigner, body);
}

/** Headers for a POST: Kling callbacks are signed, anything else goes as it is. */
export function callbackHeaders(url: string, body: string): Record<string, string> {
  return url.includes('/callbacks/kling/') ? klingSignatureHeaders(body) : {};
}
