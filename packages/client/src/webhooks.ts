import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { Task, TaskEvent } from './documents.js';
import { ClipwireError } from './errors.js';

/** A delivery's body: the event and its task as GraphQL's `task(id)` answers it (without `input`). */
export interface WebhookPayload {
  type: 'task.updated';
  /** When the delivery was signed (ISO 8601). */
  timestamp: string;
  data: { task: Omit<Task, 'input'>; event: Omit<TaskEvent, 'message'> & { message: string | null } };
}

export type WebhookHeaders =
  | Headers
  | Record<string, string | readonly string[] | undefined>
  | Iterable<readonly [string, string]>;

export interface VerifyWebhookOptions {
  /** The tenant's signing secret (`whsec_…`, from `webhookSettings { secret }`). */
  secret: string;
  /** The request's headers: a fetch `Headers`, Node's `req.headers`, or entries. */
  headers: WebhookHeaders;
  /** The raw body, exactly as received (verify before parsing it). */
  body: string | Uint8Array;
}

/**
 * Checks a webhook delivery the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`: HMAC-SHA256 of `id.timestamp.body` with the secret; during a secret rotation
 * a delivery carries one signature per active secret) and returns its parsed body. Throws a
 * ClipwireError: `WEBHOOK_INVALID_SIGNATURE` when no signature matches, `WEBHOOK_TIMESTAMP` when
 * the timestamp is more than 5 minutes away from now (a replay), `WEBHOOK_INVALID` when headers
 * are missing or the body is not JSON. Deduplicate deliveries by `webhook-id`: retries repeat it.
 */
export function verifyWebhook(options: VerifyWebhookOptions): WebhookPayload {
  const headers = headerRecord(options.headers);
  const body = typeof options.body === 'string' ? options.body : new TextDecoder().decode(options.body);
  let payload: unknown;
  try {
    payload = new Webhook(options.secret).verify(body, headers);
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) {
      throw new ClipwireError('WEBHOOK_INVALID', 'The webhook could not be verified (bad secret or body).', {
        cause: error,
      });
    }
    const message = error.message;
    if (/timestamp/i.test(message)) throw new ClipwireError('WEBHOOK_TIMESTAMP', `Webhook refused: ${message}`);
    if (/header/i.test(message)) throw new ClipwireError('WEBHOOK_INVALID', `Webhook refused: ${message}`);
    throw new ClipwireError('WEBHOOK_INVALID_SIGNATURE', `Webhook refused: ${message}`);
  }
  const event = payload as Partial<WebhookPayload> | null;
  if (!event || typeof event !== 'object' || !event.data?.task || !event.data.event) {
    throw new ClipwireError('WEBHOOK_INVALID', 'The webhook body is not a Clipwire event.');
  }
  return event as WebhookPayload;
}

function headerRecord(headers: WebhookHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  const entries: Iterable<readonly [string, unknown]> =
    typeof Headers !== 'undefined' && headers instanceof Headers
      ? headers.entries()
      : Symbol.iterator in headers
        ? (headers as Iterable<readonly [string, string]>)
        : Object.entries(headers);
  for (const [name, value] of entries) {
    const text = Array.isArray(value) ? value.join(' ') : value;
    if (typeof text === 'string') out[name.toLowerCase()] = text;
  }
  return out;
}
