import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { SimApiError, jsonObjectBody, isHttpUrl, retryAfterHeader, type ApiStyle } from '../common.js';
import type { HttpFault } from '../faults.js';
import type { NamedInput } from '../inputs.js';
import { sendJson, type SimRequest } from '../server.js';
import {
  AVATAR_DURATION,
  PROMPT_MAX,
  VIDEO_WITH_SOUND_DURATION,
  type KlingSimOptions,
  type ParentVideo,
} from './types.js';

/* How the Kling sandbox checks a request: its error type, authentication, and create-body validation. */

type KlingApiError = SimApiError<number>;

export const invalid = (message: string): KlingApiError => new SimApiError(400, 1201, message);

/** An injected HTTP fault in Kling's shape: 429 → 1302, 500/502 → 5000, 503 → 5001, 504 → 5002. */
function klingFault(f: HttpFault): KlingApiError {
  const headers = retryAfterHeader(f.retryAfter);
  switch (f.status) {
    case 429:
      return new SimApiError(429, 1302, 'request rate too high (injected)', headers);
    case 503:
      return new SimApiError(503, 5001, 'service under maintenance (injected)', headers);
    case 504:
      return new SimApiError(504, 5002, 'server timeout (injected)', headers);
    default:
      return new SimApiError(f.status, 5000, 'internal server error (injected)', headers);
  }
}

interface KlingCredentials {
  apiKey: string;
  accessKey: string | undefined;
  /** The encoded secretKey; undefined when none is configured. */
  jwtKey: Uint8Array | undefined;
  /** Clock for JWT nbf/exp, ms since epoch. */
  now: () => number;
}

/** Kling's auth rules and error envelope, for SimCore.api. */
export function klingApiStyle(opts: KlingSimOptions): ApiStyle<KlingApiError> {
  const credentials: KlingCredentials = {
    apiKey: opts.apiKey ?? 'sandbox-kling-key',
    accessKey: opts.accessKey,
    jwtKey: opts.secretKey !== undefined ? new TextEncoder().encode(opts.secretKey) : undefined,
    now: opts.now ?? Date.now,
  };
  return {
    authenticate: (req) => authenticate(req, credentials),
    fault: klingFault,
    asError: (err) =>
      err instanceof SimApiError ? (err as KlingApiError) : new SimApiError(500, 5000, 'internal error'),
    send: (res, e) =>
      sendJson(res, e.httpStatus, { code: e.code, message: e.message, request_id: randomUUID() }, e.headers),
  };
}

/** The static key, or a JWT signed with secretKey whose iss is accessKey (nbf/exp checked); else Kling's 100x codes. */
async function authenticate(req: SimRequest, creds: KlingCredentials): Promise<void> {
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Bearer\s+(.*)$/i.exec(header.trim());
  if (header === undefined || header.trim() === '') throw new SimApiError(401, 1001, 'Authorization header is empty');
  if (!m) throw new SimApiError(401, 1002, 'Authorization header is invalid: expected Bearer <token>');
  const token = (m[1] ?? '').trim();
  if (token === '') throw new SimApiError(401, 1001, 'Authorization token is empty');
  if (token === creds.apiKey) return;
  if (!creds.jwtKey || creds.accessKey === undefined || token.split('.').length !== 3) {
    throw new SimApiError(401, 1002, 'Authorization is invalid');
  }
  try {
    await jwtVerify(token, creds.jwtKey, {
      algorithms: ['HS256'],
      issuer: creds.accessKey,
      requiredClaims: ['exp'],
      currentDate: new Date(creds.now()),
    });
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new SimApiError(401, 1004, 'Authorization token has expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') {
      throw new SimApiError(401, 1003, 'Authorization token is not yet valid');
    }
    throw new SimApiError(401, 1002, 'Authorization is invalid');
  }
}

export function parseBody(req: SimRequest): Record<string, unknown> {
  return jsonObjectBody(
    req,
    (problem) =>
      new SimApiError(
        400,
        1200,
        problem === 'not JSON'
          ? 'invalid request body: malformed JSON'
          : 'invalid request body: expected a JSON object',
      ),
  );
}

export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(`${field} must be a string`);
  return v;
}

export function httpUrl(field: string, value: string | undefined): void {
  if (value !== undefined && !isHttpUrl(value)) throw invalid(`${field} must be an http(s) URL`);
}

/** Avatar fields → the capability-specific part of a new task, plus the prompts to test for failPromptContains. */
export function validateAvatar(body: Record<string, unknown>): {
  prompts: string[];
  watermark: boolean;
  urls: NamedInput[];
  /** sound_file given inline (raw base64): the video will be as long as it. */
  inlineSound: Buffer | null;
} {
  const image = body['image'];
  if (typeof image !== 'string' || image.trim() === '') throw new SimApiError(400, 1200, 'image is required');
  if (/^data:/i.test(image.trim())) throw invalid('image must be a URL or raw base64 without a data: prefix');
  const audioId = optionalString(body, 'audio_id');
  const soundFile = optionalString(body, 'sound_file');
  if ((audioId === undefined) === (soundFile === undefined)) {
    throw invalid('exactly one of audio_id and sound_file must be provided');
  }
  if (soundFile !== undefined && /^data:/i.test(soundFile.trim())) {
    throw invalid('sound_file must be a URL or raw base64 without a data: prefix');
  }
  const prompt = optionalString(body, 'prompt') ?? '';
  if (prompt.length > PROMPT_MAX.avatar) throw invalid(`prompt must not exceed ${PROMPT_MAX.avatar} characters`);
  const mode = body['mode'] ?? 'std';
  if (mode !== 'std' && mode !== 'pro') throw invalid('mode must be one of std, pro');
  let watermark = false;
  const wm: unknown = body['watermark_info'];
  if (wm !== undefined && wm !== null) {
    // The zh page calls it an array, the object form is what clients send; accept both.
    const item: unknown = Array.isArray(wm) ? wm[0] : wm;
    const enabled = typeof item === 'object' && item !== null ? (item as { enabled?: unknown }).enabled : undefined;
    if (enabled !== undefined && typeof enabled !== 'boolean')
      throw invalid('watermark_info.enabled must be a boolean');
    watermark = enabled === true;
  }
  // image and sound_file may be raw base64 instead: only URLs are downloaded.
  const urls: NamedInput[] = [];
  if (isHttpUrl(image.trim())) urls.push({ field: 'image', url: image.trim() });
  const soundUrl = soundFile !== undefined && isHttpUrl(soundFile.trim());
  // The sound is kept: the video is as long as it.
  if (soundUrl) urls.push({ field: 'sound_file', url: soundFile.trim(), keep: true });
  const inlineSound = soundFile !== undefined && !soundUrl ? Buffer.from(soundFile, 'base64') : null;
  return { prompts: [prompt], watermark, urls, inlineSound };
}

export function validateVideoToAudio(
  body: Record<string, unknown>,
  generatedVideos: ReadonlyMap<string, ParentVideo>,
  baseUrl: string,
): {
  prompts: string[];
  parentVideo: ParentVideo;
  urls: NamedInput[];
} {
  const videoId = optionalString(body, 'video_id');
  const videoUrl = optionalString(body, 'video_url');
  if ((videoId === undefined) === (videoUrl === undefined)) {
    throw invalid('exactly one of video_id and video_url must be provided');
  }
  httpUrl('video_url', videoUrl);
  const prompts: string[] = [];
  for (const field of ['sound_effect_prompt', 'bgm_prompt']) {
    const p = optionalString(body, field) ?? '';
    if (p.length > PROMPT_MAX.sound) throw invalid(`${field} must not exceed ${PROMPT_MAX.sound} characters`);
    prompts.push(p);
  }
  const asmr = body['asmr_mode'];
  if (asmr !== undefined && asmr !== null && typeof asmr !== 'boolean') throw invalid('asmr_mode must be a boolean');
  // A video_url is measured once downloaded (the result is as long as it; outside 3.0–20.0 s the task
  // fails). A video_id it did not generate itself is accepted too (it may come from another sandbox run).
  const parentVideo: ParentVideo =
    videoId !== undefined
      ? (generatedVideos.get(videoId) ?? {
          id: videoId,
          url: `${baseUrl}/media/kling/avatar-sample.mp4`,
          duration: AVATAR_DURATION,
        })
      : { id: randomUUID(), url: videoUrl as string, duration: VIDEO_WITH_SOUND_DURATION };
  return {
    prompts,
    parentVideo,
    urls: videoUrl !== undefined ? [{ field: 'video_url', url: videoUrl, keep: true }] : [],
  };
}

/** A list query's page parameter: `fallback` when absent, else an integer in [1, max]. */
export function pageParam(req: SimRequest, name: string, fallback: number, max: number): number {
  const raw = req.url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) throw invalid(`${name} must be an integer in [1, ${max}]`);
  return n;
}
