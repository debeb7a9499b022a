import { z } from 'zod';
import { id } from '../schemas.js';
import type { UnifiedStatus } from '../status.js';

/*
 * Zod schemas for the "数字人" reseller's standard avatar API. Quirks absorbed here: `code` is the
 * string "success" (its own page shows a numeric 0 and `data:{id}` instead: both are accepted),
 * progress as "NN%" or a number, unix-second timestamps (ms tolerated), empty strings for absent
 * paths, and OpenAI-style `{error:{message,code}}` bodies from the gateway in front of it.
 */

export interface DigitalHumanTask {
  taskId: string;
  action: string | null;
  /** The status exactly as sent, for logs. */
  rawStatus: string;
  status: UnifiedStatus;
  /** 0..1, or null when absent/unparseable. */
  progress: number | null;
  failReason: string | null;
  /** no_wm_work_video_path, else work_video_path. */
  videoUrl: string | null;
  /** wm_work_video_path. */
  watermarkedVideoUrl: string | null;
  /** work_webp_path (animated preview). */
  previewUrl: string | null;
  submittedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Unknown values (including the documented UNKNOWN) become UNKNOWN: non-terminal, keep polling. */
export function digitalHumanStatusToUnified(raw: string): UnifiedStatus {
  switch (raw.trim().toUpperCase()) {
    case 'NOT_START':
    case 'SUBMITTED':
    case 'QUEUED':
      return 'QUEUED';
    case 'IN_PROGRESS':
      return 'RUNNING';
    case 'SUCCESS':
      return 'SUCCEEDED';
    case 'FAILURE':
      return 'FAILED';
    default:
      return 'UNKNOWN';
  }
}

/** "NN%" or "NN" or a number; numbers above 1 are percentages, 0..1 fractions. Clamped to 0..1. */
export function parseProgress(value: unknown): number | null {
  let n: number;
  if (typeof value === 'number') n = value > 1 ? value / 100 : value;
  else if (typeof value === 'string') {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(value);
    if (!m) return null;
    const v = Number(m[1]);
    n = m[2] === '%' || v > 1 ? v / 100 : v;
  } else return null;
  if (!Number.isFinite(n)) return null;
  return Math.min(1, Math.max(0, n));
}

const text = z
  .union([z.string(), z.number().transform(String)])
  .nullish()
  .catch(null)
  .transform((s) => (s === null || s === undefined || s.trim() === '' ? null : s));

/** Unix seconds; values ≥ 1e12 are taken as ms. 0, absent or garbled → null. */
const unixTime = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^\d+(\.\d+)?$/)
      .transform(Number),
  ])
  .nullish()
  .catch(null)
  .transform((n): Date | null =>
    n === null || n === undefined || !Number.isFinite(n) || n <= 0 ? null : new Date(n >= 1e12 ? n : n * 1000),
  );

const resultSchema = z
  .object({ work_video_path: text, wm_work_video_path: text, no_wm_work_video_path: text, work_webp_path: text })
  .nullish()
  .catch(null);

export const digitalHumanTaskSchema = z
  .object({
    task_id: id,
    action: text,
    status: z.string(),
    fail_reason: text,
    submit_time: unixTime,
    start_time: unixTime,
    finish_time: unixTime,
    progress: z.unknown().optional(),
    data: resultSchema,
  })
  .transform(
    (t): DigitalHumanTask => ({
      taskId: t.task_id,
      action: t.action,
      rawStatus: t.status,
      status: digitalHumanStatusToUnified(t.status),
      progress: parseProgress(t.progress),
      failReason: t.fail_reason,
      videoUrl: t.data?.no_wm_work_video_path ?? t.data?.work_video_path ?? null,
      watermarkedVideoUrl: t.data?.wm_work_video_path ?? null,
      previewUrl: t.data?.work_webp_path ?? null,
      submittedAt: t.submit_time,
      startedAt: t.start_time,
      finishedAt: t.finish_time,
    }),
  );

/** The create answer's `data`: the id as a string (docs/providers/digital-human.md), or `{id}` / `{task_id}` (the page's own example). */
export const digitalHumanCreateDataSchema = z.union([
  z.string().min(1),
  z.number().transform(String),
  z.object({ id }).transform((d) => d.id),
  z.object({ task_id: id }).transform((d) => d.task_id),
]);

/** `{code, message, data}` with code "success" on success; or a gateway's `{error:{message, code|type}}`. */
export const digitalHumanEnvelopeSchema = z.union([
  z
    .object({
      code: z.union([z.string(), z.number()]),
      message: z.string().nullish(),
      msg: z.string().nullish(),
      data: z.unknown().optional(),
    })
    .transform((e) => ({
      ok: (typeof e.code === 'string' && e.code.trim().toLowerCase() === 'success') || e.code === 0 || e.code === 200,
      code: String(e.code),
      message: e.message ?? e.msg ?? '',
      data: e.data,
    })),
  z
    .object({
      error: z.object({
        message: z.string().nullish(),
        code: z.union([z.string(), z.number()]).nullish(),
        type: z.string().nullish(),
      }),
    })
    .transform((e) => ({
      ok: false,
      code: String(e.error.code ?? e.error.type ?? ''),
      message: e.error.message ?? '',
      data: undefined as unknown,
    })),
]);

export type DigitalHumanEnvelope = z.output<typeof digitalHumanEnvelopeSchema>;
