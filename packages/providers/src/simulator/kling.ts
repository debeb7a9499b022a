import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import { Webhook } from 'standardwebhooks';
import { klingCallbackHeaders } from '../kling/signature.js';
import { CallbackSender, type SentCallback } from './callbacks.js';
import {
  HttpFaultState,
  Timers,
  bodyForRecord,
  seededRandom,
  type CallbackFaultControls,
  type FaultControls,
  type HttpFault,
  type RecordedRequest,
} from './faults.js';
import { InputFetcher, type InputFetch, type NamedInput } from './inputs.js';
import { mediaDir } from './media.js';
import { sendBytes, sendJson, type Router, type SimRequest } from './server.js';

/*
 * Kling sandbox: avatar (/v1/videos/avatar/image2video) and video-to-audio (/v1/audio/video-to-audio)
 * create / query / list with Kling's envelope, business codes, auth rules, per-model concurrency
 * limit and callback bodies (one per status change), plus the sample media under /media/kling/.
 * It models ONE account: every accepted credential shares the task lists. external_task_id is
 * unique per capability (each capability has its own query path). URL inputs (video_url; image and
 * sound_file when they are http(s) URLs rather than raw base64) are downloaded, as Kling does, before
 * the task may end: a failed download ends it 'failed' with a task_status_msg naming the field.
 */

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

type SimStatus = 'submitted' | 'processing' | 'succeed' | 'failed';

interface ParentVideo {
  id: string;
  url: string;
  duration: string;
}

interface SimTask {
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
  createBody: Record<string, unknown>;
}

const PATHS: Record<KlingSimCapability, string> = {
  avatar: '/v1/videos/avatar/image2video',
  video_to_audio: '/v1/audio/video-to-audio',
};
const MEDIA_FILES: Record<string, string> = {
  'avatar-sample.mp4': 'video/mp4',
  'avatar-sample-watermarked.mp4': 'video/mp4',
  'video-with-sound-sample.mp4': 'video/mp4',
  'sound-sample.mp3': 'audio/mpeg',
  'sound-sample.wav': 'audio/wav',
};
/** Durations of the committed samples, as Kling reports them (strings of seconds; see media/README.md). */
const AVATAR_DURATION = '2.5';
const VIDEO_WITH_SOUND_DURATION = '3.0';
const MP3_DURATION = '3.056';
const WAV_DURATION = '3.0';
const PROMPT_MAX = { avatar: 2500, sound: 200 };

class KlingApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const invalid = (message: string) => new KlingApiError(400, 1201, message);

/** An injected HTTP fault in Kling's shape: 429 → 1302, 500/502 → 5000, 503 → 5001, 504 → 5002. */
function klingFault(f: HttpFault): KlingApiError {
  const headers: Record<string, string> = f.retryAfter !== undefined ? { 'retry-after': f.retryAfter } : {};
  switch (f.status) {
    case 429:
      return new KlingApiError(429, 1302, 'request rate too high (injected)', headers);
    case 503:
      return new KlingApiError(503, 5001, 'service under maintenance (injected)', headers);
    case 504:
      return new KlingApiError(504, 5002, 'server timeout (injected)', headers);
    default:
      return new KlingApiError(f.status, 5000, 'internal server error (injected)', headers);
  }
}

export function mountKling(
  router: Router,
  opts: KlingSimOptions,
  baseUrl: () => string,
): { controls: KlingSimControls; stop(): Promise<void> } {
  const apiKey = opts.apiKey ?? 'sandbox-kling-key';
  const jwtKey = opts.secretKey !== undefined ? new TextEncoder().encode(opts.secretKey) : undefined;
  const clock = opts.now ?? Date.now;
  const timing: Record<KlingSimCapability, KlingSimTiming> = {
    avatar: opts.timing ?? { processingAfterMs: 1500, succeedAfterMs: 4000 },
    video_to_audio: opts.videoToAudioTiming ?? { processingAfterMs: 1500, succeedAfterMs: 5000 },
  };
  let concurrency = opts.concurrency ?? Infinity;
  let createLatencyMs = 0;
  let nextCreateError: KlingSimCreateError | null = null;
  let last: RecordedRequest | null = null;
  let seq = 0;
  let requests = 0;

  const timers = new Timers();
  const faults = new HttpFaultState();
  const signer = opts.webhookSecret !== undefined ? new Webhook(opts.webhookSecret) : null;
  const callbacks = new CallbackSender(
    timers,
    seededRandom(opts.seed ?? 1),
    opts.reorderHoldMs !== undefined ? { reorderHoldMs: opts.reorderHoldMs } : {},
  );
  const tasks: SimTask[] = [];
  const byTaskId: Record<KlingSimCapability, Map<string, SimTask>> = { avatar: new Map(), video_to_audio: new Map() };
  const byExternalId: Record<KlingSimCapability, Map<string, SimTask>> = {
    avatar: new Map(),
    video_to_audio: new Map(),
  };
  /** Videos generated here, by id: a video-to-audio video_id may refer to one. */
  const generatedVideos = new Map<string, ParentVideo>();
  const createAttempts = new Map<string, number>();
  const lastBodyByExternalId = new Map<string, Record<string, unknown>>();
  const media = new Map<string, Buffer>();
  const inputs = new InputFetcher(opts.fetchInputs ?? true);

  function envelopeError(res: ServerResponse, e: KlingApiError): void {
    sendJson(res, e.httpStatus, { code: e.code, message: e.message, request_id: randomUUID() }, e.headers);
  }

  function ok(res: ServerResponse, data: unknown): void {
    sendJson(res, 200, { code: 0, message: 'SUCCEED', request_id: randomUUID(), data });
  }

  async function authenticate(req: SimRequest): Promise<void> {
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(.*)$/i.exec(header.trim());
    if (header === undefined || header.trim() === '')
      throw new KlingApiError(401, 1001, 'Authorization header is empty');
    if (!m) throw new KlingApiError(401, 1002, 'Authorization header is invalid: expected Bearer <token>');
    const token = (m[1] ?? '').trim();
    if (token === '') throw new KlingApiError(401, 1001, 'Authorization token is empty');
    if (token === apiKey) return;
    if (!jwtKey || opts.accessKey === undefined || token.split('.').length !== 3) {
      throw new KlingApiError(401, 1002, 'Authorization is invalid');
    }
    try {
      await jwtVerify(token, jwtKey, {
        algorithms: ['HS256'],
        issuer: opts.accessKey,
        requiredClaims: ['exp'],
        currentDate: new Date(clock()),
      });
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new KlingApiError(401, 1004, 'Authorization token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') {
        throw new KlingApiError(401, 1003, 'Authorization token is not yet valid');
      }
      throw new KlingApiError(401, 1002, 'Authorization is invalid');
    }
  }

  function serialize(t: SimTask): Record<string, unknown> {
    const taskInfo: Record<string, unknown> = { external_task_id: t.externalTaskId ?? '' };
    if (t.parentVideo) taskInfo['parent_video'] = t.parentVideo;
    const out: Record<string, unknown> = {
      task_id: t.taskId,
      task_status: t.status,
      task_status_msg: t.statusMsg,
      task_info: taskInfo,
      created_at: t.createdAt,
      updated_at: t.updatedAt,
    };
    if (t.capability === 'avatar') out['watermark_info'] = { enabled: t.watermark };
    if (t.status === 'succeed') {
      const base = `${baseUrl()}/media/kling`;
      if (t.capability === 'avatar') {
        out['task_result'] = {
          videos: [
            {
              id: t.videoId,
              url: `${base}/avatar-sample.mp4`,
              watermark_url: t.watermark ? `${base}/avatar-sample-watermarked.mp4` : '',
              duration: AVATAR_DURATION,
            },
          ],
        };
      } else {
        out['task_result'] = {
          videos: [{ id: t.videoId, url: `${base}/video-with-sound-sample.mp4`, duration: VIDEO_WITH_SOUND_DURATION }],
          audios: [
            {
              id: t.audioId,
              url_mp3: `${base}/sound-sample.mp3`,
              url_wav: `${base}/sound-sample.wav`,
              duration_mp3: MP3_DURATION,
              duration_wav: WAV_DURATION,
            },
          ],
        };
      }
      out['final_unit_deduction'] = t.capability === 'avatar' ? '5' : '1';
    } else if (t.status === 'failed') {
      out['final_unit_deduction'] = '0';
    }
    return out;
  }

  /** Kling POSTs a snapshot of the task to callback_url on every status change. */
  function emitCallback(t: SimTask, body: Record<string, unknown> = serialize(t)): void {
    if (!t.callbackUrl) return;
    // The sender posts JSON.stringify(body): the string signed here.
    callbacks.send(t.taskId, t.callbackUrl, body, signer ? klingCallbackHeaders(signer, JSON.stringify(body)) : {});
  }

  function transition(t: SimTask, status: SimStatus, msg: string): void {
    t.status = status;
    t.statusMsg = msg;
    // Strictly increasing, so consumers can order events by updated_at.
    t.updatedAt = Math.max(Date.now(), t.updatedAt + 1);
    if (status === 'succeed' && t.capability === 'avatar') {
      generatedVideos.set(t.videoId, {
        id: t.videoId,
        url: `${baseUrl()}/media/kling/avatar-sample.mp4`,
        duration: AVATAR_DURATION,
      });
    }
    emitCallback(t);
  }

  function parseBody(req: SimRequest): Record<string, unknown> {
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw new KlingApiError(400, 1200, 'invalid request body: malformed JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new KlingApiError(400, 1200, 'invalid request body: expected a JSON object');
    }
    return body as Record<string, unknown>;
  }

  function optionalString(body: Record<string, unknown>, field: string): string | undefined {
    const v = body[field];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw invalid(`${field} must be a string`);
    return v;
  }

  function isHttpUrl(value: string): boolean {
    return /^https?:\/\//i.test(value.trim());
  }

  function httpUrl(field: string, value: string | undefined): void {
    if (value !== undefined && !/^https?:\/\//i.test(value)) throw invalid(`${field} must be an http(s) URL`);
  }

  /** Avatar fields → the capability-specific part of a new task, plus the prompts to test for failPromptContains. */
  function validateAvatar(body: Record<string, unknown>): {
    prompts: string[];
    watermark: boolean;
    urls: NamedInput[];
  } {
    const image = body['image'];
    if (typeof image !== 'string' || image.trim() === '') throw new KlingApiError(400, 1200, 'image is required');
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
    if (isHttpUrl(image)) urls.push({ field: 'image', url: image.trim() });
    if (soundFile !== undefined && isHttpUrl(soundFile)) urls.push({ field: 'sound_file', url: soundFile.trim() });
    return { prompts: [prompt], watermark, urls };
  }

  function validateVideoToAudio(body: Record<string, unknown>): {
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
    // The simulator cannot measure a video_url (3.0–20.0 s, ≤100 MB): it reports the sample's duration.
    // A video_id it did not generate itself is accepted too (it may come from another sandbox run).
    const parentVideo: ParentVideo =
      videoId !== undefined
        ? (generatedVideos.get(videoId) ?? {
            id: videoId,
            url: `${baseUrl()}/media/kling/avatar-sample.mp4`,
            duration: AVATAR_DURATION,
          })
        : { id: randomUUID(), url: videoUrl as string, duration: VIDEO_WITH_SOUND_DURATION };
    return { prompts, parentVideo, urls: videoUrl !== undefined ? [{ field: 'video_url', url: videoUrl }] : [] };
  }

  async function create(capability: KlingSimCapability, req: SimRequest, res: ServerResponse): Promise<void> {
    const body = parseBody(req);
    const externalTaskId = optionalString(body, 'external_task_id');
    if (externalTaskId !== undefined) {
      createAttempts.set(externalTaskId, (createAttempts.get(externalTaskId) ?? 0) + 1);
      lastBodyByExternalId.set(externalTaskId, body);
    }

    if (nextCreateError) {
      const e = nextCreateError;
      nextCreateError = null;
      throw new KlingApiError(
        e.httpStatus,
        e.code,
        e.message,
        e.retryAfter !== undefined ? { 'retry-after': e.retryAfter } : {},
      );
    }

    let prompts: string[];
    let watermark = false;
    let parentVideo: ParentVideo | null = null;
    let urls: NamedInput[];
    if (capability === 'avatar') ({ prompts, watermark, urls } = validateAvatar(body));
    else ({ prompts, parentVideo, urls } = validateVideoToAudio(body));
    const callbackUrl = optionalString(body, 'callback_url');
    httpUrl('callback_url', callbackUrl);
    if (externalTaskId !== undefined && byExternalId[capability].has(externalTaskId)) {
      // What Kling really answers to a duplicate external_task_id is unconfirmed (docs/providers/kling.md);
      // this is our best guess. Clients must look the id up rather than rely on this answer.
      throw invalid('external_task_id already exists');
    }
    if (active(capability) >= concurrency) {
      throw new KlingApiError(429, 1303, 'parallel task over resource pack limit');
    }

    const failing =
      opts.failPromptContains !== undefined &&
      opts.failPromptContains !== '' &&
      prompts.some((p) => p.includes(opts.failPromptContains as string));
    seq += 1;
    const now = Date.now();
    const task: SimTask = {
      seq,
      capability,
      taskId: String(BigInt(now) * 1000n + BigInt(seq % 1000)),
      externalTaskId: externalTaskId ?? null,
      status: 'submitted',
      statusMsg: '',
      createdAt: now,
      updatedAt: now,
      callbackUrl: callbackUrl ?? null,
      failMessage: failing ? 'Failure to pass the risk control system (simulated)' : null,
      watermark,
      videoId: randomUUID(),
      audioId: randomUUID(),
      parentVideo,
      createBody: body,
    };
    tasks.push(task);
    byTaskId[capability].set(task.taskId, task);
    if (task.externalTaskId !== null) byExternalId[capability].set(task.externalTaskId, task);

    const { processingAfterMs, succeedAfterMs } = timing[capability];
    // Inputs download from submission on. The task turns 'processing' on time; a failed download fails
    // it right after that (or when the download fails, if later). A download that finishes after
    // processingAfterMs shifts the end by as much: generation starts once the inputs are in.
    const downloaded = inputs.fetchAll(urls);
    timers.later(processingAfterMs, () => {
      transition(task, 'processing', '');
      void downloaded.then((outcome) => {
        if (inputs.isStopped) return;
        const shift = Math.max(0, Date.now() - task.createdAt - processingAfterMs);
        const endAt = outcome.ok ? Math.max(succeedAfterMs, processingAfterMs + 1) + shift : processingAfterMs + 1;
        timers.later(Math.max(1, task.createdAt + endAt - Date.now()), () => {
          if (!outcome.ok) transition(task, 'failed', `failed to download ${outcome.field} (${outcome.reason})`);
          else if (task.failMessage === null) transition(task, 'succeed', '');
          else transition(task, 'failed', task.failMessage);
        });
      });
    });

    if (createLatencyMs > 0) await timers.sleep(createLatencyMs);
    if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
    const submitted = serialize({ ...task, status: 'submitted', statusMsg: '', updatedAt: task.createdAt });
    const { task_id, task_info, task_status, created_at, updated_at } = submitted;
    ok(res, {
      task_id,
      task_info: { external_task_id: (task_info as { external_task_id: string }).external_task_id },
      task_status,
      created_at,
      updated_at,
    });
    // The initial 'submitted' callback goes out right after the create response.
    emitCallback(task, submitted);
  }

  function active(capability?: KlingSimCapability): number {
    return tasks.filter(
      (t) =>
        (capability === undefined || t.capability === capability) &&
        (t.status === 'submitted' || t.status === 'processing'),
    ).length;
  }

  function get(capability: KlingSimCapability, req: SimRequest, res: ServerResponse): void {
    const id = req.params['id'] ?? '';
    const task = byTaskId[capability].get(id) ?? byExternalId[capability].get(id);
    if (!task) throw new KlingApiError(404, 1203, `task ${id} does not exist`);
    ok(res, serialize(task));
  }

  function pageParam(req: SimRequest, name: string, fallback: number, max: number): number {
    const raw = req.url.searchParams.get(name);
    if (raw === null || raw === '') return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > max) throw invalid(`${name} must be an integer in [1, ${max}]`);
    return n;
  }

  function list(capability: KlingSimCapability, req: SimRequest, res: ServerResponse): void {
    const pageNum = pageParam(req, 'pageNum', 1, 1000);
    const pageSize = pageParam(req, 'pageSize', 30, 500);
    const newestFirst = tasks
      .filter((t) => t.capability === capability)
      .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq);
    ok(res, newestFirst.slice((pageNum - 1) * pageSize, pageNum * pageSize).map(serialize));
  }

  const api =
    (isCreate: boolean, handler: (req: SimRequest, res: ServerResponse) => void | Promise<void>) =>
    async (req: SimRequest, res: ServerResponse): Promise<void> => {
      requests += 1;
      last = {
        method: req.method,
        path: req.url.pathname + req.url.search,
        headers: req.headers,
        body: bodyForRecord(req.body, req.headers['content-type']),
      };
      try {
        await authenticate(req);
        const fault = faults.take(isCreate);
        if (fault) throw klingFault(fault);
        await handler(req, res);
      } catch (err) {
        const e = err instanceof KlingApiError ? err : new KlingApiError(500, 5000, 'internal error');
        if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
        envelopeError(res, e);
      }
    };
  /** Latency for non-create successes (create applies it itself, after the task exists). */
  const delayed =
    (handler: (req: SimRequest, res: ServerResponse) => void) =>
    async (req: SimRequest, res: ServerResponse): Promise<void> => {
      if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
      handler(req, res);
    };

  for (const capability of ['avatar', 'video_to_audio'] as const) {
    const path = PATHS[capability];
    router
      .on(
        'POST',
        path,
        api(true, (req, res) => create(capability, req, res)),
      )
      .on(
        'GET',
        path,
        api(
          false,
          delayed((req, res) => list(capability, req, res)),
        ),
      )
      .on(
        'GET',
        `${path}/:id`,
        api(
          false,
          delayed((req, res) => get(capability, req, res)),
        ),
      );
  }
  router.on('GET', '/media/kling/:file', async (req, res) => {
    const file = req.params['file'] ?? '';
    const type = MEDIA_FILES[file];
    if (type === undefined) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    let data = media.get(file);
    if (!data) {
      data = await readFile(join(mediaDir, file));
      media.set(file, data);
    }
    sendBytes(req, res, data, type);
  });

  const controls: KlingSimControls = {
    createCount: (capability) => tasks.filter((t) => capability === undefined || t.capability === capability).length,
    createsFor: (externalTaskId) => createAttempts.get(externalTaskId) ?? 0,
    requestCount: () => requests,
    activeTasks: (capability) => active(capability),
    lastRequest: () => last,
    lastCreateBody: (id) =>
      (byTaskId.avatar.get(id) ?? byTaskId.video_to_audio.get(id))?.createBody ?? lastBodyByExternalId.get(id),
    setTiming: (t) => {
      timing.avatar = { ...t };
    },
    setVideoToAudioTiming: (t) => {
      timing.video_to_audio = { ...t };
    },
    setConcurrency: (slots) => {
      concurrency = slots;
    },
    setCreateLatencyMs: (ms) => {
      createLatencyMs = ms;
    },
    setNextCreateError: (e) => {
      nextCreateError = e;
    },
    setCallbacksEnabled: (on) => callbacks.setEnabled(on),
    sentCallbacks: () => callbacks.sent(),
    inputFetches: () => inputs.records(),
    setLatencyMs: (ms) => {
      faults.latencyMs = ms;
    },
    failNext: (f) => faults.failNext(f),
    setCallbackFaults: (f) => callbacks.setFaults(f),
    clearFaults: () => {
      faults.clear();
      callbacks.setFaults({});
      createLatencyMs = 0;
      nextCreateError = null;
    },
  };

  return {
    controls,
    async stop() {
      timers.clear();
      await inputs.stop();
      await callbacks.stop();
    },
  };
}
