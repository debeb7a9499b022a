import { z } from 'zod';
import { id, numeric, optionalNumber, optionalText, parseCallbackBody, timestamp } from '../schemas.js';
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
  /** Credits the task consumed (`consumeCredits`), once KIE reports them. */
  consumeCredits: number | null;
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

/** As optionalText, but a value of another type → null too. */
const lenientText = optionalText.catch(null);

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
    model: lenientText,
    state: z.string(),
    param: jsonObject,
    resultJson: jsonObject,
    failCode: lenientText,
    failMsg: lenientText,
    costTime: optionalNumber,
    consumeCredits: optionalNumber,
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
      consumeCredits: t.consumeCredits,
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

export type KieEnvelope = z.output<typeof kieEnvelopeSchema>;

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
  const { value, parsed } = parseCallbackBody('kie', kieCallbackSchema, body);
  const credits = kieCreditsSchema.parse(value).data;
  return {
    ...parsed.data,
    callbackCode: parsed.code,
    callbackMessage: parsed.msg ?? parsed.message ?? '',
    consumeCredits: credits.consumeCredits,
    remainedCredits: credits.remainedCredits,
  };
}
