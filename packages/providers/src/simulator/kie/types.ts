import type { SentCallback } from '../callbacks.js';
import type { CallbackFaultControls, FaultControls, RecordedRequest } from '../faults.js';
import type { InputFetch } from '../inputs.js';

/* The KIE sandbox's options and controls (public), and its task model (internal). */

export interface KieSimTiming {
  /** ms after creation at which 'waiting' turns 'queuing'. */
  queuingAfterMs: number;
  /** ms after creation at which the task turns 'generating'. */
  generatingAfterMs: number;
  /** ms after creation at which it ends 'success' (or 'fail'). */
  completeAfterMs: number;
}

export interface KieSimOptions {
  /** Accepted key. Default 'sandbox-kie-key'. */
  apiKey?: string;
  /** Default 500 / 1500 / 5000 ms. */
  timing?: KieSimTiming;
  /** When set, callbacks carry X-Webhook-Timestamp and X-Webhook-Signature. */
  hmacKey?: string;
  /** Creates admitted per rolling window. Default 20 per 10000 ms (KIE's documented limit). */
  rateLimit?: { creates: number; windowMs: number };
  /** A prompt containing this makes the task end 'fail' (failCode '501'). */
  failPromptContains?: string;
  /** Send business errors with HTTP 200 (KIE does, sometimes). Default false: the HTTP status mirrors the code. */
  errorsWithHttp200?: boolean;
  /** Seed of the PRNG behind probabilistic faults. Default 1. */
  seed?: number;
  /** How long a reordered callback waits for a later one before going out anyway. Default 500 ms. */
  reorderHoldMs?: number;
  /**
   * Download input.image_url and input.audio_url after a create, as KIE does, before the task may
   * turn 'generating'. A download that fails (non-2xx, transport error, timeout) ends the task
   * 'fail' with failCode '422'. Default true; false skips the downloads (inputs count as fetched).
   */
  fetchInputs?: boolean;
}

export interface KieSimError {
  /** KIE body code: 401, 402, 404, 422, 429, 433, 455, 500, 501, 505, … */
  code: number;
  message?: string;
  /** Default: per errorsWithHttp200 (200, or the code). */
  httpStatus?: number;
  /** Which field carries the message. Default 'msg'. */
  messageField?: 'msg' | 'message';
  retryAfter?: string;
}

export interface KieSimControls extends FaultControls, CallbackFaultControls {
  /** Tasks accepted so far. */
  createCount(): number;
  /** All requests to the KIE routes (API and uploads), authenticated or not. */
  requestCount(): number;
  /** The last request to a KIE API or upload route. */
  lastRequest(): RecordedRequest | null;
  setTiming(t: KieSimTiming): void;
  /** The next authenticated createTask answers with this error (one shot); null clears it. */
  setNextCreateError(e: KieSimError | null): void;
  setCallbacksEnabled(on: boolean): void;
  sentCallbacks(): SentCallback[];
  /** Files stored by the upload endpoints. */
  uploadCount(): number;
  /** Finished input downloads (image_url, audio_url of each task), in the order they were started. */
  inputFetches(): InputFetch[];
}

export type KieState = 'waiting' | 'queuing' | 'generating' | 'success' | 'fail';

export interface SimTask {
  taskId: string;
  state: KieState;
  param: string;
  callBackUrl: string | null;
  failing: boolean;
  /** Set when the task ends 'fail'. */
  failCode: string;
  failMsg: string;
  credits: number;
  createTime: number;
  updateTime: number;
  completeTime: number | null;
  /** Sandbox outcome LOST_CALLBACK: its terminal callback is not sent. */
  callbackLost: boolean;
  /** How long the video lasts: its audio, once downloaded and measured (null: the sample's length). */
  outputSeconds: number | null;
}

export interface StoredFile {
  data: Buffer;
  mimeType: string;
}

export const MODEL = 'infinitalk/from-audio';
export const CREATE = '/api/v1/jobs/createTask';
export const RECORD = '/api/v1/jobs/recordInfo';
