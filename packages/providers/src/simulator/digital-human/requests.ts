import { SimApiError, jsonObjectBody, isHttpUrl, retryAfterHeader, type ApiStyle } from '../common.js';
import type { HttpFault } from '../faults.js';
import type { NamedInput } from '../inputs.js';
import { sendJson, type SimRequest } from '../server.js';
import type { DigitalHumanSimOptions, Form } from './types.js';

/* How the reseller sandbox checks a request: its error type, authentication, and the three create-body forms. */

type DhApiError = SimApiError<string>;

const invalid = (message: string): DhApiError => new SimApiError(400, 'invalid_request', message);

function dhFault(f: HttpFault): DhApiError {
  const headers = retryAfterHeader(f.retryAfter);
  if (f.status === 429) return new SimApiError(429, 'rate_limit_exceeded', 'too many requests (injected)', headers);
  if (f.status === 503) return new SimApiError(503, 'service_unavailable', 'service unavailable (injected)', headers);
  return new SimApiError(f.status, 'server_error', 'upstream server error (injected)', headers);
}

/** The reseller's auth rule and `{code, message, data: null}` error body, for SimCore.api. */
export function dhApiStyle(opts: DigitalHumanSimOptions): ApiStyle<DhApiError> {
  const apiKey = opts.apiKey ?? 'sandbox-dh-key';
  return {
    authenticate: (req) => {
      const m = /^Bearer\s+(.+)$/i.exec((req.headers.authorization ?? '').trim());
      if (!m || (m[1] ?? '').trim() !== apiKey)
        throw new SimApiError(401, 'unauthorized', 'invalid or missing API key');
    },
    fault: dhFault,
    asError: (err) =>
      err instanceof SimApiError ? (err as DhApiError) : new SimApiError(500, 'server_error', 'internal error'),
    send: (res, e) => sendJson(res, e.httpStatus, { code: e.code, message: e.message, data: null }, e.headers),
  };
}

function str(obj: Record<string, unknown>, field: string, label: string, url = false): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`${label} is required`);
  if (url && !isHttpUrl(v)) throw invalid(`${label} must be an http(s) URL`);
  return v;
}

function object(v: unknown, label: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${label} must be an object`);
  return v as Record<string, unknown>;
}

/** The create body as a JSON object. */
export function parseBody(req: SimRequest): Record<string, unknown> {
  return jsonObjectBody(req, (problem) =>
    problem === 'not JSON' ? invalid('request body must be JSON') : invalid('request body must be an object'),
  );
}

/** Returns the form and the texts to test for failWhenContains; throws for none or several forms. */
export function validate(body: Record<string, unknown>): {
  form: Form;
  texts: string[];
  noWatermark: boolean;
  urls: NamedInput[];
} {
  const present = (k: string) => body[k] !== undefined && body[k] !== null;
  const forms: Form[] = [];
  if (present('audio_url')) forms.push('audio');
  if (present('create_voice')) forms.push('create_voice');
  if (present('use_voice')) forms.push('use_voice');
  if (forms.length === 0)
    throw invalid('body must match exactly one form: audio_url, create_voice or use_voice (none given)');
  if (forms.length > 1)
    throw invalid(`body must match exactly one form: audio_url, create_voice or use_voice (got ${forms.join(' + ')})`);
  const avatarUrl = str(body, 'avatar_url', 'avatar_url', true);
  const form = forms[0] as Form;
  if (form !== 'audio' && present('no_watermark')) throw invalid('no_watermark is only allowed with audio_url');
  if (form === 'audio') {
    const audioUrl = str(body, 'audio_url', 'audio_url', true);
    const nw = body['no_watermark'];
    if (nw !== undefined && nw !== null && typeof nw !== 'boolean') throw invalid('no_watermark must be a boolean');
    return {
      form,
      texts: [avatarUrl],
      noWatermark: nw === true,
      urls: [
        { field: 'avatar_url', url: avatarUrl },
        // Kept: the video is as long as this audio.
        { field: 'audio_url', url: audioUrl, keep: true },
      ],
    };
  }
  if (form === 'create_voice') {
    // The ≥20 s of speech the clone needs is not measured (the audio is downloaded, not decoded).
    const v = object(body['create_voice'], 'create_voice');
    const audioUrl = str(v, 'audio_url', 'create_voice.audio_url', true);
    str(v, 'language', 'create_voice.language');
    const text = str(v, 'text', 'create_voice.text');
    return {
      form,
      texts: [avatarUrl, text],
      noWatermark: false,
      urls: [
        { field: 'avatar_url', url: avatarUrl },
        { field: 'create_voice.audio_url', url: audioUrl },
      ],
    };
  }
  const v = object(body['use_voice'], 'use_voice');
  str(v, 'voice_engine_id', 'use_voice.voice_engine_id');
  str(v, 'audio_id', 'use_voice.audio_id');
  str(v, 'language', 'use_voice.language');
  const text = str(v, 'text', 'use_voice.text');
  return { form, texts: [avatarUrl, text], noWatermark: false, urls: [{ field: 'avatar_url', url: avatarUrl }] };
}
