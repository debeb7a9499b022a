import { ProviderError, type UnifiedStatus } from '@clipwire/providers';
import type { Provider, TaskCostInfo, TaskKind, TaskOutput } from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';

/** A media input as stored with a task: a URL the provider fetches itself, or bytes Clipwire keeps. */
export type MediaRef = { url: string } | { mediaId: string };

/** What a provider says about a task, in Clipwire's terms. Built only from authenticated responses. */
export interface ProviderReport {
  providerTaskId: string | null;
  status: UnifiedStatus;
  /** The provider's own status value, for logs. */
  rawStatus: string;
  message: string | null;
  progress: number | null;
  output: TaskOutput;
  cost: TaskCostInfo | null;
  failure: { providerCode: string | null; message: string } | null;
  updatedAt: Date | null;
}

export interface SubmitContext {
  /** Where the provider should call back about this task; null when it has no callbacks. */
  callbackUrl: string | null;
  /** A URL from which the provider can fetch a stored media object. */
  mediaUrl(mediaId: string): Promise<string>;
  /** A stored media object as raw base64, for providers that take it inline. */
  mediaBase64(mediaId: string): Promise<string>;
}

/** One capability of one provider: how to submit a task, look it up, and recognise its callbacks. */
export interface TaskAdapter {
  readonly provider: Provider;
  readonly kind: TaskKind;
  readonly mode: 'SANDBOX' | 'LIVE';
  /** Whether the provider calls back (otherwise the poller is the only source). */
  readonly callbacks: boolean;
  /**
   * Whether `lookup` can find a task whose create outcome is unknown (Kling: our id is its
   * external_task_id). Where it cannot, an unknown outcome is never resent blindly.
   */
  readonly findsUnconfirmedCreates: boolean;
  submit(task: TaskRow, ctx: SubmitContext): Promise<ProviderReport>;
  /** The provider's view of the task; null when it has never seen it. */
  lookup(task: TaskRow): Promise<ProviderReport | null>;
  /**
   * Reads a callback (throws on a malformed body): whether it is about this task (and, where a
   * signing key is configured, whether its signature is valid), and the report it carries only when
   * its whole body is authenticated (Kling's Standard Webhooks signature), so that it can be
   * applied as is. Otherwise (`report: null`) it is only a notification: status and results come
   * from `lookup`.
   */
  readCallback?(
    task: Pick<TaskRow, 'id' | 'providerTaskId'>,
    rawBody: string,
    headers: Record<string, string | string[] | undefined>,
  ): CallbackReading;
}

export type CallbackReading = { about: false } | { about: true; report: ProviderReport | null };

/** What a provider's create answer tells when it only returns an id: accepted, queued, nothing more. */
export function acceptedReport(providerTaskId: string, rawStatus: string): ProviderReport {
  return {
    providerTaskId,
    status: 'QUEUED',
    rawStatus,
    message: null,
    progress: null,
    output: { videos: [], audios: [] },
    cost: null,
    failure: null,
    updatedAt: null,
  };
}

/** The provider's answer, or null when it has never seen the task. */
export async function unlessNotFound<T>(lookup: () => Promise<T>): Promise<T | null> {
  try {
    return await lookup();
  } catch (error) {
    if (error instanceof ProviderError && error.kind === 'not_found') return null;
    throw error;
  }
}

/** Whether a failed create certainly never reached the provider (so sending it again is safe). */
export function neverReachedProvider(error: ProviderError): boolean {
  if (error.kind !== 'network' && error.kind !== 'timeout') return false;
  const codes = [error.code, (error.cause as { code?: string } | undefined)?.code];
  return codes.some((c) => c !== undefined && NOT_SENT_CODES.has(c));
}

/** Errors raised before a request could be sent: connection refused, name not resolved, connect timeout. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
