import type { CallbackFaultControls, FaultControls, RecordedRequest } from '../faults.js';
import type { SentCallback } from '../callbacks.js';
import type { InputFetch } from '../inputs.js';

/* The Kling sandbox's options and controls (public), and its task model and sample media (internal). */

export interface KlingSimTiming {
  /** ms after submission at which the task turns 'processing'. */
  processingAfterMs: number;
  /** ms after submission at which the task ends 'succeed' (or 'failed'). */
  succeedAfterMs: number;
}

export type KlingSimCapability = 'avatar' | 'video_to_audio';

export interface KlingSimOptions {
  /** Accepted static key. Default 'sandbox-kling-key'. */
  apiKey?: string;
  /** With secretKey: JWTs signed with secretKey whose iss is accessKey are accepted. */
  accessKey?: string;
  secretKey?: string;
  /** Avatar tasks. Default 1500 / 4000 ms. Applies to tasks created afterwards. */
  timing?: KlingSimTiming;
  /** Video-to-audio tasks. Default 1500 / 5000 ms. Applies to tasks created afterwards. */
  videoToAudioTiming?: KlingSimTiming;
  /**
   * Parallel tasks per capability (model): a task holds a slot from 'submitted' until terminal.
   * Over it, create answers HTTP 429 code 1303. Default: unlimited.
   */
  concurrency?: number;
  /** A prompt (avatar prompt, sound_effect_prompt or bgm_prompt) containing this makes the task end 'failed'. */
  failPromptContains?: string;
  /** Clock used to check JWT nbf/exp, ms since epoch. Default Date.now (tests move it to expire tokens). */
  now?: () => number;
  /** Seed of the PRNG behind probabilistic faults. Default 1. */
  seed?: number;
  /** How long a reordered callback waits for a later one before going out anyway. Default 500 ms. */
  reorderHoldMs?: number;
  /**
   * Download URL inputs after a create (video_url; avatar image / sound_file when http(s) URLs).
   * The task turns 'processing' on time, but ends only once they are in: 'failed' when one did not
   * answer 2xx. Default true; false skips the downloads (inputs count as fetched).
   */
  fetchInputs?: boolean;
  /**
   * Kling's opt-in callback signing (Standard Webhooks, `whsec_…`): when set, every callback carries
   * webhook-id, webhook-timestamp and webhook-signature over its body. Default: unsigned, as Kling's
   * callbacks are until signing is turned on in its console.
   */
  webhookSecret?: string;
}

export interface KlingSimCreateError {
  httpStatus: number;
  code: number;
  message: string;
  /** Sent as the Retry-After header when set (seconds or an HTTP date). */
  retryAfter?: string;
}

export interface KlingSimControls extends FaultControls, CallbackFaultControls {
  /** Tasks accepted (created) so far; all capabilities, or one. */
  createCount(capability?: KlingSimCapability): number;
  /** Authenticated create requests that carried this external_task_id, whatever their outcome (duplicates, injected errors included). */
  createsFor(externalTaskId: string): number;
  /** All requests to /v1/* so far, authenticated or not. */
  requestCount(): number;
  /** Tasks currently holding a concurrency slot (submitted or processing). */
  activeTasks(capability?: KlingSimCapability): number;
  /** The last request to /v1/* (any capability). */
  lastRequest(): RecordedRequest | null;
  /**
   * The JSON body of the create request behind a task, looked up by Kling task_id or by
   * external_task_id (then the latest create attempt carrying it, even a rejected one).
   */
  lastCreateBody(id: string): Record<string, unknown> | undefined;
  /** Timing for avatar tasks created from now on. */
  setTiming(t: KlingSimTiming): void;
  /** Timing for video-to-audio tasks created from now on. */
  setVideoToAudioTiming(t: KlingSimTiming): void;
  /** Parallel-task limit per capability; Infinity for none. */
  setConcurrency(slots: number): void;
  /** Delay the create RESPONSE only (see setLatencyMs for every response). */
  setCreateLatencyMs(ms: number): void;
  /** The next authenticated create answers with this exact Kling error instead (one shot); null clears it. */
  setNextCreateError(e: KlingSimCreateError | null): void;
  /** When off, status changes send no callbacks (lost callbacks). Default on. */
  setCallbacksEnabled(on: boolean): void;
  sentCallbacks(): SentCallback[];
  /** Finished input downloads of every task (field order within a task), in the order they were started. */
  inputFetches(): InputFetch[];
}

export type SimStatus = 'submitted' | 'processing' | 'succeed' | 'failed';

export interface ParentVideo {
  id: string;
  url: string;
  duration: string;
}

export interface SimTask {
  seq: number;
  capability: KlingSimCapability;
  taskId: string;
  externalTaskId: string | null;
  status: SimStatus;
  statusMsg: string;
  createdAt: number;
  updatedAt: number;
  callbackUrl: string | null;
  failMessage: string | null;
  /** Avatar: also a watermarked variant. */
  watermark: boolean;
  videoId: string;
  audioId: string;
  /** Video-to-audio: the input video. */
  parentVideo: ParentVideo | null;
  /** Sandbox outcome LOST_CALLBACK: none of its callbacks is sent (polling must find its end). */
  callbacksLost: boolean;
  /** How long the outputs last: the avatar's sound, the input video; null (unknown: the samples' lengths) until measured. */
  outputSeconds: number | null;
  createBody: Record<string, unknown>;
}

export const PATHS: Record<KlingSimCapability, string> = {
  avatar: '/v1/videos/avatar/image2video',
  video_to_audio: '/v1/audio/video-to-audio',
};
export const MEDIA_FILES: Record<string, string> = {
  'avatar-sample.mp4': 'video/mp4',
  'avatar-sample-watermarked.mp4': 'video/mp4',
  'video-with-sound-sample.mp4': 'video/mp4',
  'sound-sample.mp3': 'audio/mpeg',
  'sound-sample.wav': 'audio/wav',
};
/** Durations of the committed samples, as Kling reports them (strings of seconds; see media/README.md). */
export const AVATAR_DURATION = '2.5';
export const VIDEO_WITH_SOUND_DURATION = '3.0';
export const MP3_DURATION = '3.056';
export const WAV_DURATION = '3.0';
/** Seconds as Kling writes a duration: a string with at least one decimal ("4.0", "3.056"). */
export function klingSeconds(seconds: number): string {
  const s = String(Number(seconds.toFixed(3)));
  return s.includes('.') ? s : `${s}.0`;
}
export const PROMPT_MAX = { avatar: 2500, sound: 200 };
