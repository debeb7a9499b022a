import type { FaultControls, RecordedRequest } from '../faults.js';
import type { InputFetch } from '../inputs.js';

/* The reseller sandbox's options and controls (public), and its task model (internal). */

export interface DigitalHumanSimTiming {
  /** ms after creation at which NOT_START turns SUBMITTED. */
  submittedAfterMs: number;
  /** … QUEUED. */
  queuedAfterMs: number;
  /** … IN_PROGRESS (progress then climbs from 10% to 90%). */
  inProgressAfterMs: number;
  /** … SUCCESS or FAILURE. */
  finishAfterMs: number;
}

export interface DigitalHumanSimOptions {
  /** Accepted key. Default 'sandbox-dh-key'. */
  apiKey?: string;
  /** Default 200 / 600 / 1200 / 5000 ms. */
  timing?: DigitalHumanSimTiming;
  /** A body whose avatar_url or text contains this ends FAILURE with a fail_reason. */
  failWhenContains?: string;
  /**
   * Download avatar_url and the audio URL (audio_url or create_voice.audio_url) after a create,
   * before the task may turn IN_PROGRESS. A failed download ends it FAILURE with a fail_reason
   * naming the field. Default true; false skips the downloads (inputs count as fetched).
   */
  fetchInputs?: boolean;
}

export interface DigitalHumanSimError {
  httpStatus: number;
  /** The reseller's string code, e.g. 'insufficient_quota'. */
  code: string;
  message?: string;
  retryAfter?: string;
}

export interface DigitalHumanSimControls extends FaultControls {
  /** Tasks accepted so far. */
  createCount(): number;
  requestCount(): number;
  lastRequest(): RecordedRequest | null;
  setTiming(t: DigitalHumanSimTiming): void;
  /** The next authenticated create answers with this error (one shot); null clears it. */
  setNextCreateError(e: DigitalHumanSimError | null): void;
  /** Finished input downloads (avatar_url, then the audio URL, of each task), in the order they were started. */
  inputFetches(): InputFetch[];
}

export type DhStatus = 'NOT_START' | 'SUBMITTED' | 'QUEUED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE';
export type Form = 'audio' | 'create_voice' | 'use_voice';

export interface SimTask {
  taskId: string;
  form: Form;
  noWatermark: boolean;
  failing: boolean;
  /** Until the input downloads finish: undefined. Then when they did, and why they failed (if so). */
  inputs?: { doneAt: number; failReason: string | null };
  createdAt: number;
  /** Timing as of creation (setTiming affects later tasks only). */
  timing: DigitalHumanSimTiming;
  /** How long the video lasts: the driving audio once measured, or the spoken text's estimate (null: the sample's). */
  outputSeconds: number | null;
}

export const MEDIA_FILES: Record<string, string> = {
  'avatar-sample.mp4': 'video/mp4',
  'avatar-sample-watermarked.mp4': 'video/mp4',
};
