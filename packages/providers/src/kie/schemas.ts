import { z } from 'zod';
import { protocolError } from '../errors.js';
import type { UnifiedStatus } from '../status.js';

/*
 * Zod schemas for KIE.ai's market API (jobs/createTask, jobs/recordInfo, the terminal callback) and
 * its file-upload API. Quirks absorbed here: `msg` vs `message`, `param` and `resultJson` as JSON
 * strings (tolerating objects), failCode as string or number, ms vs s timestamps, numeric strings.
 */

/** Normalized KIE task (recordInfo `data`, or a callback's `data`). */
export interface KieTask {
  taskId: string;
  model: string | null;
  /** The state exactly as KIE sent it, for logs. */
  rawState: string;
  status: UnifiedStatus;
  /** The create request as KIE recorded it (`param`, a JSON string upstream); null when absent or not JSON. */
  param: Record<string, unknown> | null;
  /** From `resultJson.resultUrls`; [] until success. */
  resultUrls: string[];
  failCode: string | null;
  failMsg: string | null;
  costTimeMs: number | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  completedAt: Date | null;
}

/** The body KIE POSTs to callBackUrl once, at the terminal state. */
export interface KieCallback extends KieTask {
  /** 200 on success, 501 on failure. */
  callbackCode: number;
  callbackMessage: string;
  consumeCredits: number | null;
  remainedCredits: number | null;
}

export interface KieUploadedFile {
  downloadUrl: string;
  fileName: string;
  filePath: string;
  fileSize: number;
  mimeType: string;
}

/** Unknown values become UNKNOWN (non-terminal: keep polling), never an exception. */
export function kieStateToUnified(raw: string): UnifiedStatus {
  switch (raw.trim().toLowerCase()) {
    case 'waiting':
    case 'queuing':
      return 'QUEUED';
    case 'generating':
      return 'RUNNING';
    case 'success':
      return 'SUCCEEDED';
    case 'fail':
      return 'FAILED';
    default:
      return 'UNKNOWN';
  }
}

const numeric = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);
const id = z.union([z.string().min(1), z.number().transform(String)]);

const optionalNumber = numeric
  .nullish()
  .catch(null)
  .transform((n) => (n === null || n === undefined || !Number.isFinite(n) ? null : n));

/** ms since epoch; values below 1e12 are taken as seconds. Absent, 0 or garbled → null. */
const timestamp = optionalNumber.transform((n): Date | null =>
  n !== null && n > 0 ? new Date(n < 1e12 ? n * 1000 : n) : null,
);

const optionalText = z
  .union([z.string(), z.number().transform(String)])
  .nullish()
  .catch(null)
  .transform((s) => (s === null || s === undefined || s === '' ? null : s));

/** A JSON string (KIE's way) or an already-parsed object. Anything else → null. */
const jsonObject = z.unknown().transform((v): Record<string, unknown> | null => {
  let value = v;
  if (typeof value === 'string') {
    if (value.trim() === '') return null;
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
});

export const kieTaskSchema = z
  .object({
    taskId: id,
    model: optionalText,
    state: z.string(),
    param: jsonObject,
    resultJson: jsonObject,
    failCode: optionalText,
    failMsg: optionalText,
    costTime: optionalNumber,
    completeTime: timestamp,
    createTime: timestamp,
    updateTime: timestamp,
  })
  .transform((t): KieTask => {
    const urls = t.resultJson?.['resultUrls'];
    return {
      taskId: t.taskId,
      model: t.model,
      rawState: t.state,
      status: kieStateToUnified(t.state),
      param: t.param,
      resultUrls: Array.isArray(urls) ? urls.filter((u): u is string => typeof u === 'string' && u !== '') : [],
      failCode: t.failCode,
      failMsg: t.failMsg,
      costTimeMs: t.costTime,
      createdAt: t.createTime,
      updatedAt: t.updateTime,
      completedAt: t.completeTime,
    };
  });

export const kieCreateDataSchema = z.object({ taskId: id }).transform((d) => d.taskId);

export const kieUploadDataSchema = z
  .object({
    downloadUrl: z.string().min(1),
    fileName: z.string(),
    filePath: z.string(),
    fileSize: numeric,
    mimeType: z.string(),
  })
  .transform(
    (d): KieUploadedFile => ({
      downloadUrl: d.downloadUrl,
      fileName: d.fileName,
      filePath: d.filePath,
      fileSize: d.fileSize,
      mimeType: d.mimeType,
    }),
  );

/** `{code, msg | message, data}` (uploads add `success`). */
export const kieEnvelopeSchema = z
  .object({
    code: numeric,
    msg: z.string().nullish(),
    message: z.string().nullish(),
    success: z.boolean().nullish(),
    data: z.unknown().optional(),
  })
  .transform((e) => ({ code: e.code, message: e.msg ?? e.message ?? '', success: e.success ?? null, data: e.data }));

const kieCallbackSchema = z.object({
  code: numeric,
  msg: z.string().nullish(),
  message: z.string().nullish(),
  data: kieTaskSchema,
});
const kieCreditsSchema = z.object({
  data: z.object({ consumeCredits: optionalNumber, remainedCredits: optionalNumber }),
});

/**
 * Parses the JSON body (object, text or bytes) KIE POSTs to callBackUrl at the terminal state.
 * The optional signature covers only taskId + timestamp (verifyKieSignature), not this body:
 * re-read recordInfo before trusting a result. Throws a ProviderError of kind 'protocol' on
 * malformed input; an unknown state parses to UNKNOWN.
 */
export function parseKieCallback(body: unknown): KieCallback {
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
    } catch (err) {
      throw protocolError('kie', 'callback body is not JSON', { cause: err });
    }
  }
  const parsed = kieCallbackSchema.safeParse(value);
  if (!parsed.success) {
    throw protocolError('kie', `malformed callback body: ${parsed.error.message}`, { cause: parsed.error });
  }
  const credits = kieCreditsSchema.parse(value).data;
  return {
    ...parsed.data.data,
    callbackCode: parsed.data.code,
    callbackMessage: parsed.data.msg ?? parsed.data.message ?? '',
    consumeCredits: credits.consumeCredits,
    remainedCredits: credits.remainedCredits,
  };
}
