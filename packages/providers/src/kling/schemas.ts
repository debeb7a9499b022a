import { z } from 'zod';
import { id, numeric, optionalNumber, optionalText, parseCallbackBody, timestamp } from '../schemas.js';
import type { UnifiedStatus } from '../status.js';

/*
 * Zod schemas for Kling's legacy /v1 endpoints (avatar and video-to-audio share one task shape). Every upstream quirk is absorbed here
 * (succeed vs succeeded, string durations, ms vs s timestamps, message vs msg, missing objects);
 * nothing past KlingTask knows how Kling spells things.
 */

/** Normalized Kling task, for every capability (avatar, video-to-audio). */
export interface KlingTask {
  taskId: string;
  externalTaskId: string | null;
  /** The status exactly as Kling sent it, for logs. */
  rawStatus: string;
  status: UnifiedStatus;
  statusMessage: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  /** Avatar: the talking video. Video-to-audio: the input video with the generated sound mixed in. */
  videos: KlingVideo[];
  /** Video-to-audio only: the generated sound track(s). Always [] for avatar tasks. */
  audios: KlingAudio[];
  /** Video-to-audio only: the input video (`task_info.parent_video`). Always null for avatar tasks. */
  parentVideo: KlingParentVideo | null;
  finalUnitDeduction: string | null;
}

export interface KlingAudio {
  id: string;
  mp3Url: string | null;
  wavUrl: string | null;
  mp3DurationSeconds: number | null;
  wavDurationSeconds: number | null;
}

export interface KlingParentVideo {
  id: string | null;
  url: string | null;
  durationSeconds: number | null;
}

export interface KlingVideo {
  id: string;
  url: string;
  watermarkUrl: string | null;
  durationSeconds: number | null;
}

/** Unknown values become UNKNOWN (non-terminal: keep polling), never an exception. */
export function klingStatusToUnified(raw: string): UnifiedStatus {
  switch (raw.trim().toLowerCase()) {
    case 'submitted':
      return 'QUEUED';
    case 'processing':
      return 'RUNNING';
    case 'succeed':
    case 'succeeded':
      return 'SUCCEEDED';
    case 'failed':
      return 'FAILED';
    default:
      return 'UNKNOWN';
  }
}

/** Seconds, as a string ("5.1") or a number. Absent or garbled → null. */
const durationSeconds = optionalNumber;

const klingVideoSchema = z
  .object({
    id,
    url: z.string().min(1),
    watermark_url: optionalText,
    duration: durationSeconds,
  })
  .transform((v): KlingVideo => ({ id: v.id, url: v.url, watermarkUrl: v.watermark_url, durationSeconds: v.duration }));

const klingAudioSchema = z
  .object({
    id,
    url_mp3: optionalText,
    url_wav: optionalText,
    duration_mp3: durationSeconds,
    duration_wav: durationSeconds,
  })
  .refine((a) => a.url_mp3 !== null || a.url_wav !== null, { message: 'an audio needs url_mp3 or url_wav' })
  .transform(
    (a): KlingAudio => ({
      id: a.id,
      mp3Url: a.url_mp3,
      wavUrl: a.url_wav,
      mp3DurationSeconds: a.duration_mp3,
      wavDurationSeconds: a.duration_wav,
    }),
  );

/** Informational: a garbled parent_video becomes null rather than failing the whole task. */
const parentVideoSchema = z
  .object({ id: optionalText, url: optionalText, duration: durationSeconds })
  .transform((p): KlingParentVideo | null =>
    p.id === null && p.url === null ? null : { id: p.id, url: p.url, durationSeconds: p.duration },
  )
  .nullish()
  .catch(null)
  .transform((p) => p ?? null);

/**
 * One task as returned by create, query, list, and as POSTed to callback_url (same field names),
 * for avatar and video-to-audio alike.
 */
export const klingTaskSchema = z
  .object({
    task_id: id,
    task_status: z.string(),
    task_status_msg: optionalText,
    task_info: z.object({ external_task_id: optionalText, parent_video: parentVideoSchema }).nullish(),
    task_result: z
      .object({ videos: z.array(klingVideoSchema).nullish(), audios: z.array(klingAudioSchema).nullish() })
      .nullish(),
    final_unit_deduction: optionalText,
    created_at: timestamp,
    updated_at: timestamp,
  })
  .transform(
    (t): KlingTask => ({
      taskId: t.task_id,
      externalTaskId: t.task_info?.external_task_id ?? null,
      rawStatus: t.task_status,
      status: klingStatusToUnified(t.task_status),
      statusMessage: t.task_status_msg,
      createdAt: t.created_at,
      updatedAt: t.updated_at,
      videos: t.task_result?.videos ?? [],
      audios: t.task_result?.audios ?? [],
      parentVideo: t.task_info?.parent_video ?? null,
      finalUnitDeduction: t.final_unit_deduction,
    }),
  );

export const klingTaskListSchema = z.array(klingTaskSchema);

/** `{code, message, request_id, data}`; some gateways say `msg`. */
export const klingEnvelopeSchema = z
  .object({
    code: numeric,
    message: z.string().nullish(),
    msg: z.string().nullish(),
    request_id: z.string().nullish(),
    data: z.unknown().optional(),
  })
  .transform((e) => ({
    code: e.code,
    message: e.message ?? e.msg ?? '',
    requestId: e.request_id ?? undefined,
    data: e.data,
  }));

export type KlingEnvelope = z.output<typeof klingEnvelopeSchema>;

/** Request body of POST /v1/videos/avatar/image2video, in Kling's field names. */
export interface KlingAvatarCreateBody {
  image: string;
  audio_id?: string;
  sound_file?: string;
  prompt?: string;
  mode?: 'std' | 'pro';
  watermark_info?: { enabled: boolean };
  callback_url?: string;
  external_task_id?: string;
}

/** Request body of POST /v1/audio/video-to-audio, in Kling's field names. */
export interface KlingVideoToAudioCreateBody {
  video_id?: string;
  video_url?: string;
  sound_effect_prompt?: string;
  bgm_prompt?: string;
  asmr_mode?: boolean;
  callback_url?: string;
  external_task_id?: string;
}

/**
 * Parses the JSON body Kling POSTs to callback_url (same shape as a query's `data`), for avatar and
 * video-to-audio tasks alike (the latter fill `audios` and `parentVideo`). Callbacks
 * may be duplicated, reordered or lost: treat one as a hint and keep status monotonic.
 * Throws a ProviderError of kind 'protocol' on malformed input.
 */
export function parseKlingCallback(body: unknown): KlingTask {
  return parseCallbackBody('kling', klingTaskSchema, body).parsed;
}
