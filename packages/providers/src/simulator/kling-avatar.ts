import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import { request, type Dispatcher } from 'undici';
import { createHttpDispatcher } from '../http.js';
import { mediaDir } from './media.js';
import { sendBytes, sendJson, type Router, type SimRequest } from './server.js';

/*
 * Kling avatar sandbox: /v1/videos/avatar/image2video create / query / list with Kling's envelope,
 * business codes, auth rules and callback bodies, plus the sample media under /media/kling/.
 * It models ONE account: every accepted credential shares the task list and the
 * external_task_id namespace. Inputs are validated for shape only, never downloaded.
 */

export interface KlingSimTiming {
  /** ms after submission at which the task turns 'processing'. */
  processingAfterMs: number;
  /** ms after submission at which the task ends 'succeed' (or 'failed'). */
  succeedAfterMs: number;
}

export interface KlingSimOptions {
  /** Accepted static key. Default 'sandbox-kling-key'. */
  apiKey?: string;
  /** With secretKey: JWTs signed with secretKey whose iss is accessKey are accepted. */
  accessKey?: string;
  secretKey?: string;
  /** Default 1500 / 4000 ms. Applies to tasks created afterwards. */
  timing?: KlingSimTiming;
  /** A prompt containing this makes the task end 'failed' with a task_status_msg. */
  failPromptContains?: string;
  /** Clock used to check JWT nbf/exp, ms since epoch. Default Date.now (tests move it to expire tokens). */
  now?: () => number;
}

export interface KlingSimCreateError {
  httpStatus: number;
  code: number;
  message: string;
  /** Sent as the Retry-After header when set (seconds or an HTTP date). */
  retryAfter?: string;
}

export interface SentCallback {
  url: string;
  body: unknown;
  /** The receiver's HTTP status, or 'error' when it could not be reached in time. */
  status: number | 'error';
}

export interface KlingSimControls {
  /** Tasks accepted (created) so far. */
  createCount(): number;
  /** Authenticated create requests that carried this external_task_id, whatever their outcome (duplicates, injected errors included). */
  createsFor(externalTaskId: string): number;
  /** All requests to /v1/* so far, authenticated or not. */
  requestCount(): number;
  /** Timing for tasks created from now on. */
  setTiming(t: KlingSimTiming): void;
  /** Delay the create RESPONSE by this much. The task is created before the delay, as when a real response is lost to a client timeout. */
  setCreateLatencyMs(ms: number): void;
  /** The next authenticated create answers with this error instead (one shot); null clears it. */
  setNextCreateError(e: KlingSimCreateError | null): void;
  /** When off, status changes send no callbacks (lost callbacks). Default on. */
  setCallbacksEnabled(on: boolean): void;
  sentCallbacks(): SentCallback[];
}

type SimStatus = 'submitted' | 'processing' | 'succeed' | 'failed';

interface SimTask {
  seq: number;
  taskId: string;
  externalTaskId: string | null;
  status: SimStatus;
  statusMsg: string;
  createdAt: number;
  updatedAt: number;
  callbackUrl: string | null;
  failMessage: string | null;
  watermark: boolean;
  videoId: string;
}

const AVATAR = '/v1/videos/avatar/image2video';
const MEDIA_FILES: Record<string, string> = {
  'avatar-sample.mp4': 'video/mp4',
  'avatar-sample-watermarked.mp4': 'video/mp4',
};
/** Duration of media/avatar-sample.mp4, as Kling reports it (a string of seconds). */
const SAMPLE_DURATION = '2.5';
const CALLBACK_TIMEOUT_MS = 2000;

class KlingApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new KlingApiError(400, 1201, message);

export function mountKlingAvatar(
  router: Router,
  opts: KlingSimOptions,
  baseUrl: () => string,
): { controls: KlingSimControls; stop(): Promise<void> } {
  const apiKey = opts.apiKey ?? 'sandbox-kling-key';
  const jwtKey = opts.secretKey !== undefined ? new TextEncoder().encode(opts.secretKey) : undefined;
  const clock = opts.now ?? Date.now;
  let timing: KlingSimTiming = opts.timing ?? { processingAfterMs: 1500, succeedAfterMs: 4000 };
  let createLatencyMs = 0;
  let nextCreateError: KlingSimCreateError | null = null;
  let callbacksEnabled = true;
  let stopped = false;
  let seq = 0;
  let requests = 0;

  const tasks: SimTask[] = [];
  const byTaskId = new Map<string, SimTask>();
  const byExternalId = new Map<string, SimTask>();
  const createAttempts = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const sent: SentCallback[] = [];
  const inFlight = new Set<Promise<void>>();
  /** Per task, callbacks go out one after another so the receiver sees them in order. */
  const callbackChains = new Map<string, Promise<void>>();
  const media = new Map<string, Buffer>();
  let callbackDispatcher: Dispatcher | undefined;

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function envelopeError(res: ServerResponse, e: KlingApiError, headers: Record<string, string> = {}): void {
    sendJson(res, e.httpStatus, { code: e.code, message: e.message, request_id: randomUUID() }, headers);
  }

  function ok(res: ServerResponse, data: unknown): void {
    sendJson(res, 200, { code: 0, message: 'SUCCEED', request_id: randomUUID(), data });
  }

  async function authenticate(req: SimRequest): Promise<void> {
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(.*)$/i.exec(header.trim());
    if (header === undefined || header.trim() === '') throw new KlingApiError(401, 1001, 'Authorization header is empty');
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
    const out: Record<string, unknown> = {
      task_id: t.taskId,
      task_status: t.status,
      task_status_msg: t.statusMsg,
      task_info: { external_task_id: t.externalTaskId ?? '' },
      watermark_info: { enabled: t.watermark },
      created_at: t.createdAt,
      updated_at: t.updatedAt,
    };
    if (t.status === 'succeed') {
      const base = baseUrl();
      out['task_result'] = {
        videos: [
          {
            id: t.videoId,
            url: `${base}/media/kling/avatar-sample.mp4`,
            watermark_url: t.watermark ? `${base}/media/kling/avatar-sample-watermarked.mp4` : '',
            duration: SAMPLE_DURATION,
          },
        ],
      };
      out['final_unit_deduction'] = '5';
    } else if (t.status === 'failed') {
      out['final_unit_deduction'] = '0';
    }
    return out;
  }

  /** POSTs Kling's callback body (a snapshot of the task taken now) to the task's callback_url. */
  function emitCallback(t: SimTask, body: Record<string, unknown> = serialize(t)): void {
    if (!t.callbackUrl || !callbacksEnabled || stopped) return;
    const url = t.callbackUrl;
    const previous = callbackChains.get(t.taskId) ?? Promise.resolve();
    const p: Promise<void> = previous.then(async () => {
      if (stopped) return;
      callbackDispatcher ??= createHttpDispatcher({ connections: 8, connectTimeoutMs: CALLBACK_TIMEOUT_MS });
      let status: number | 'error';
      try {
        const res = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          dispatcher: callbackDispatcher,
          headersTimeout: CALLBACK_TIMEOUT_MS,
          bodyTimeout: CALLBACK_TIMEOUT_MS,
          signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
        });
        await res.body.dump();
        status = res.statusCode;
      } catch {
        status = 'error';
      }
      sent.push({ url, body, status });
    });
    callbackChains.set(t.taskId, p);
    inFlight.add(p);
    void p.finally(() => {
      inFlight.delete(p);
      if (callbackChains.get(t.taskId) === p) callbackChains.delete(t.taskId);
    });
  }

  function transition(t: SimTask, status: SimStatus, msg: string): void {
    t.status = status;
    t.statusMsg = msg;
    // Strictly increasing, so consumers can order events by updated_at.
    t.updatedAt = Math.max(Date.now(), t.updatedAt + 1);
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

  async function create(req: SimRequest, res: ServerResponse): Promise<void> {
    const body = parseBody(req);
    const externalTaskId = optionalString(body, 'external_task_id');
    if (externalTaskId !== undefined) createAttempts.set(externalTaskId, (createAttempts.get(externalTaskId) ?? 0) + 1);

    if (nextCreateError) {
      const e = nextCreateError;
      nextCreateError = null;
      envelopeError(res, new KlingApiError(e.httpStatus, e.code, e.message), e.retryAfter !== undefined ? { 'retry-after': e.retryAfter } : {});
      return;
    }

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
    if (prompt.length > 2500) throw invalid('prompt must not exceed 2500 characters');
    const mode = body['mode'] ?? 'std';
    if (mode !== 'std' && mode !== 'pro') throw invalid('mode must be one of std, pro');
    let watermark = false;
    const wm: unknown = body['watermark_info'];
    if (wm !== undefined && wm !== null) {
      // The zh page calls it an array, the object form is what clients send; accept both.
      const item: unknown = Array.isArray(wm) ? wm[0] : wm;
      const enabled = typeof item === 'object' && item !== null ? (item as { enabled?: unknown }).enabled : undefined;
      if (enabled !== undefined && typeof enabled !== 'boolean') throw invalid('watermark_info.enabled must be a boolean');
      watermark = enabled === true;
    }
    const callbackUrl = optionalString(body, 'callback_url');
    if (callbackUrl !== undefined && !/^https?:\/\//i.test(callbackUrl)) throw invalid('callback_url must be an http(s) URL');
    if (externalTaskId !== undefined && byExternalId.has(externalTaskId)) {
      // What Kling really answers to a duplicate external_task_id is unconfirmed (CONTRACTS.md);
      // this is our best guess. Clients must look the id up rather than rely on this answer.
      throw invalid('external_task_id already exists');
    }

    seq += 1;
    const now = Date.now();
    const task: SimTask = {
      seq,
      taskId: String(BigInt(now) * 1000n + BigInt(seq % 1000)),
      externalTaskId: externalTaskId ?? null,
      status: 'submitted',
      statusMsg: '',
      createdAt: now,
      updatedAt: now,
      callbackUrl: callbackUrl ?? null,
      failMessage:
        opts.failPromptContains !== undefined && opts.failPromptContains !== '' && prompt.includes(opts.failPromptContains)
          ? 'Failure to pass the risk control system (simulated)'
          : null,
      watermark,
      videoId: randomUUID(),
    };
    tasks.push(task);
    byTaskId.set(task.taskId, task);
    if (task.externalTaskId !== null) byExternalId.set(task.externalTaskId, task);

    const { processingAfterMs, succeedAfterMs } = timing;
    later(processingAfterMs, () => transition(task, 'processing', ''));
    later(Math.max(succeedAfterMs, processingAfterMs + 1), () =>
      task.failMessage === null ? transition(task, 'succeed', '') : transition(task, 'failed', task.failMessage),
    );

    if (createLatencyMs > 0) await new Promise((r) => later(createLatencyMs, () => r(undefined)));
    const { task_id, task_info, task_status, created_at, updated_at } = serialize({ ...task, status: 'submitted', updatedAt: task.createdAt });
    ok(res, { task_id, task_info, task_status, created_at, updated_at });
    // The initial 'submitted' callback goes out right after the create response.
    emitCallback(task, serialize({ ...task, status: 'submitted', statusMsg: '', updatedAt: task.createdAt }));
  }

  function get(req: SimRequest, res: ServerResponse): void {
    const id = req.params['id'] ?? '';
    const task = byTaskId.get(id) ?? byExternalId.get(id);
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

  function list(req: SimRequest, res: ServerResponse): void {
    const pageNum = pageParam(req, 'pageNum', 1, 1000);
    const pageSize = pageParam(req, 'pageSize', 30, 500);
    const newestFirst = [...tasks].sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq);
    ok(res, newestFirst.slice((pageNum - 1) * pageSize, pageNum * pageSize).map(serialize));
  }

  const api =
    (handler: (req: SimRequest, res: ServerResponse) => void | Promise<void>) =>
    async (req: SimRequest, res: ServerResponse): Promise<void> => {
      requests += 1;
      try {
        await authenticate(req);
        await handler(req, res);
      } catch (err) {
        if (err instanceof KlingApiError) envelopeError(res, err);
        else envelopeError(res, new KlingApiError(500, 5000, 'internal error'));
      }
    };

  router
    .on('POST', AVATAR, api(create))
    .on('GET', AVATAR, api(list))
    .on('GET', `${AVATAR}/:id`, api(get))
    .on('GET', '/media/kling/:file', async (req, res) => {
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
    createCount: () => tasks.length,
    createsFor: (externalTaskId) => createAttempts.get(externalTaskId) ?? 0,
    requestCount: () => requests,
    setTiming: (t) => {
      timing = { ...t };
    },
    setCreateLatencyMs: (ms) => {
      createLatencyMs = ms;
    },
    setNextCreateError: (e) => {
      nextCreateError = e;
    },
    setCallbacksEnabled: (on) => {
      callbacksEnabled = on;
    },
    sentCallbacks: () => [...sent],
  };

  return {
    controls,
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inFlight]);
      await callbackDispatcher?.close();
    },
  };
}
