import { z } from 'zod';
import { protocolError } from '../errors.js';
import type { UnifiedStatus } from '../status.js';

/*
 * Zod schemas for Kling's legacy /v1 avatar endpoints. Every upstream quirk is absorbed here
 * (succeed vs succeeded, string durations, ms vs s timestamps, message vs msg, missing objects);
 * nothing past KlingTask knows how Kling spells things.
 */

/** Normalized Kling avatar task. */
export interface KlingTask {
  taskId: string;
  externalTaskId: string | null;
  /** The status exactly as Kling sent it, for logs. */
  rawStatus: string;
  status: UnifiedStatus;
  statusMessage: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  videos: KlingVideo[];
  finalUnitDeduction: string | null;
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

const numeric = z.union([z.number(), z.string().trim().regex(/^-?\d+(\.\d+)?$/).transform(Number)]);

/** Ids arrive as strings; tolerate numbers. */
const id = z.union([z.string().min(1), z.number().transform(String)]);

/** ms since epoch; values below 1e12 are taken as seconds. Absent or garbled → null (informational only). */
const timestamp = numeric
  .transform((n): Date | null => (Number.isFinite(n) && n > 0 ? new Date(n < 1e12 ? n * 1000 : n) : null))
  .nullish()
  .catch(null)
  .transform((d) => d ?? null);

/** Seconds, as a string ("5.1") or a number. Absent or garbled → null. */
const durationSeconds = numeric
  .nullish()
  .catch(null)
  .transform((n) => (n === null || n === undefined || !Number.isFinite(n) ? null : n));

const optionalText = z
  .union([z.string(), z.number().transform(String)])
  .nullish()
  .transform((s) => (s === null || s === undefined || s === '' ? null : s));

export const klingVideoSchema = z
  .object({
    id,
    url: z.string().min(1),
    watermark_url: optionalText,
    duration: durationSeconds,
  })
  .transform(
    (v): KlingVideo => ({ id: v.id, url: v.url, watermarkUrl: v.watermark_url, durationSeconds: v.duration }),
  );

/**
 * One task as returned by create, query, list, and as POSTed to callback_url (same field names).
 */
export const klingTaskSchema = z
  .object({
    task_id: id,
    task_status: z.string(),
    task_status_msg: optionalText,
    task_info: z.object({ external_task_id: optionalText }).nullish(),
    task_result: z.object({ videos: z.array(klingVideoSchema).nullish() }).nullish(),
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

/**
 * Parses the JSON body Kling POSTs to callback_url (same shape as a query's `data`). Callbacks
 * may be duplicated, reordered or lost: treat one as a hint and keep status monotonic.
 * Throws a ProviderError of kind 'protocol' on malformed input.
 */
export function parseKlingCallback(body: unknown): KlingTask {
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
    } catch (err) {
      throw protocolError('kling', 'callback body is not JSON', { cause: err });
    }
  }
  const parsed = klingTaskSchema.safeParse(value);
  if (!parsed.success) {
    throw protocolError('kling', `malformed callback body: ${parsed.error.message}`, { cause: parsed.error });
  }
  return parsed.data;
}
