import type { ServerResponse } from 'node:http';
import { jsonObjectBody, isHttpUrl, retryAfterHeader, type ApiStyle } from '../common.js';
import type { HttpFault } from '../faults.js';
import { sendJson, type SimRequest } from '../server.js';
import { MODEL, type KieSimError, type KieSimOptions } from './types.js';

/* How the KIE sandbox checks a request: its error type and rendering, authentication, and create-body validation. */

/**
 * A KIE error answer. Unlike SimApiError it is keyed by KIE's body code: the HTTP status, when not
 * given, follows from that code (or is 200 with errorsWithHttp200), and the message may sit in `msg` or `message`.
 */
export class KieApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly httpStatus?: number,
    readonly messageField: 'msg' | 'message' = 'msg',
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new KieApiError(422, message);

/** An injected HTTP fault in KIE's shape: 429 → 429, 503 → 455 (maintenance), other 5xx → 500. */
function kieFault(f: HttpFault): KieApiError {
  const headers = retryAfterHeader(f.retryAfter);
  if (f.status === 429) return new KieApiError(429, 'Rate limited (injected)', headers, 429);
  if (f.status === 503) return new KieApiError(455, 'Service unavailable: maintenance (injected)', headers, 503);
  return new KieApiError(500, 'Server error (injected)', headers, f.status);
}

/** The error for the next create set by setNextCreateError. */
export function injectedCreateError(e: KieSimError): KieApiError {
  return new KieApiError(
    e.code,
    e.message ?? `error ${e.code} (injected)`,
    retryAfterHeader(e.retryAfter),
    e.httpStatus,
    e.messageField,
  );
}

/**
 * KIE's auth rule and error body, for SimCore.api. The HTTP status mirrors the body code unless
 * errorsWithHttp200; `extra` fields go into every error body (uploads add `success: false`).
 */
export function kieApiStyle(opts: KieSimOptions, extra: Record<string, unknown> = {}): ApiStyle<KieApiError> {
  const apiKey = opts.apiKey ?? 'sandbox-kie-key';
  return {
    authenticate: (req) => {
      const m = /^Bearer\s+(.+)$/i.exec((req.headers.authorization ?? '').trim());
      if (!m || (m[1] ?? '').trim() !== apiKey) throw new KieApiError(401, 'You do not have access permissions');
    },
    fault: kieFault,
    asError: (err) => (err instanceof KieApiError ? err : new KieApiError(500, 'Server error')),
    send: (res: ServerResponse, e: KieApiError) => {
      const status = e.httpStatus ?? (opts.errorsWithHttp200 ? 200 : e.code >= 200 && e.code <= 599 ? e.code : 500);
      sendJson(res, status, { ...extra, code: e.code, [e.messageField]: e.message, data: null }, e.headers);
    },
  };
}

export function parseJson(req: SimRequest): Record<string, unknown> {
  return jsonObjectBody(req, (problem) =>
    invalid(problem === 'not JSON' ? 'request body must be JSON' : 'request body must be a JSON object'),
  );
}

function requiredUrl(obj: Record<string, unknown>, field: string, label = field): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`${label} is required`);
  if (!isHttpUrl(v)) throw invalid(`${label} must be an http(s) URL`);
  return v;
}

/** A createTask body's fields, validated as KIE does. */
export function validateCreate(body: Record<string, unknown>): {
  imageUrl: string;
  audioUrl: string;
  prompt: string;
  resolution: '480p' | '720p';
  callBackUrl: string | null;
} {
  if (body['model'] !== MODEL) throw invalid(`model must be ${MODEL}`);
  const input = body['input'];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('input is required');
  const inp = input as Record<string, unknown>;
  const imageUrl = requiredUrl(inp, 'image_url', 'input.image_url');
  const audioUrl = requiredUrl(inp, 'audio_url', 'input.audio_url');
  const prompt = inp['prompt'];
  if (typeof prompt !== 'string' || prompt.trim() === '') throw invalid('input.prompt is required');
  if (prompt.length > 5000) throw invalid('input.prompt must be at most 5000 characters');
  const resolution = inp['resolution'] ?? '480p';
  if (resolution !== '480p' && resolution !== '720p') throw invalid('input.resolution must be one of 480p, 720p');
  const seed = inp['seed'];
  if (
    seed !== undefined &&
    seed !== null &&
    (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 10_000 || seed > 1_000_000)
  ) {
    throw invalid('input.seed must be an integer in [10000, 1000000]');
  }
  const callBackUrl = body['callBackUrl'];
  if (
    callBackUrl !== undefined &&
    callBackUrl !== null &&
    (typeof callBackUrl !== 'string' || !isHttpUrl(callBackUrl))
  ) {
    throw invalid('callBackUrl must be an http(s) URL');
  }
  return { imageUrl, audioUrl, prompt, resolution, callBackUrl: typeof callBackUrl === 'string' ? callBackUrl : null };
}
