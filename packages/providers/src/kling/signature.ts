import { randomUUID } from 'node:crypto';
import type { Webhook } from 'standardwebhooks';

/**
 * Kling's opt-in callback signature (Standard Webhooks): the webhook-id, webhook-timestamp and
 * webhook-signature headers for `rawBody`, the exact string posted, signed with `signer` at `at`.
 */
export function klingCallbackHeaders(signer: Webhook, rawBody: string, at = new Date()): Record<string, string> {
  const id = `msg_${randomUUID()}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signer.sign(id, at, rawBody),
  };
}
