import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { signKieCallback } from '../kie/signature.js';
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
import { InputFetcher, type InputFetch } from './inputs.js';
import { mediaDir } from './media.js';
import { sendBytes, sendJson, type Router, type SimRequest } from './server.js';

/*
 * KIE.ai sandbox: the market API for model infinitalk/from-audio (jobs/createTask, jobs/recordInfo)
 * with KIE's body codes, the 20-creates-per-10-s limit, one terminal callback per task (optionally
 * signed), and the file-upload API (stream / base64 / URL) whose downloadUrl this server serves.
 * Mounted on the same server as the other providers: point both baseUrl and uploadBaseUrl at it.
 */

export interface KieSimTiming {
  /** ms after creation at which 'waiting' turns 'queuing'. */
  queuingAfterMs: number;
  /** ms after creation at which the task turns 'generating'. */
  generatingAfterMs: number;
  /** ms after creation at which it ends 'success' (or 'fail'). */
  completeAfterMs: number;
}

export interface KieSimOptions {
  /** Accepted key. Default 'sandbox-kie-key'. */
  apiKey?: string;
  /** Default 500 / 1500 / 5000 ms. */
  timing?: KieSimTiming;
  /** When set, callbacks carry X-Webhook-Timestamp and X-Webhook-Signature. */
  hmacKey?: string;
  /** Creates admitted per rolling window. Default 20 per 10000 ms (KIE's documented limit). */
  rateLimit?: { creates: number; windowMs: number };
  /** A prompt containing this makes the task end 'fail' (failCode '501'). */
  failPromptContains?: string;
  /** Send business errors with HTTP 200 (KIE does, sometimes). Default false: the HTTP status mirrors the code. */
  errorsWithHttp200?: boolean;
  /** Seed of the PRNG behind probabilistic faults. Default 1. */
  seed?: number;
  /** How long a reordered callback waits for a later one before going out anyway. Default 500 ms. */
  reorderHoldMs?: number;
  /**
   * Download input.image_url and input.audio_url after a create, as KIE does, before the task may
   * turn 'generating'. A download that fails (non-2xx, transport error, timeout) ends the task
   * 'fail' with failCode '422'. Default true; false skips the downloads (inputs count as fetched).
   */
  fetchInputs?: boolean;
}

export interface KieSimError {
  /** KIE body code: 401, 402, 404, 422, 429, 433, 455, 500, 501, 505, … */
  code: number;
  message?: string;
  /** Default: per errorsWithHttp200 (200, or the code). */
  httpStatus?: number;
  /** Which field carries the message. Default 'msg'. */
  messageField?: 'msg' | 'message';
  retryAfter?: string;
}

export interface KieSimControls extends FaultControls, CallbackFaultControls {
  /** Tasks accepted so far. */
  createCount(): number;
  /** All requests to the KIE routes (API and uploads), authenticated or not. */
  requestCount(): number;
  /** The last request to a KIE API or upload route. */
  lastRequest(): RecordedRequest | null;
  setTiming(t: KieSimTiming): void;
  /** The next authenticated createTask answers with this error (one shot); null clears it. */
  setNextCreateError(e: KieSimError | null): void;
  setCallbacksEnabled(on: boolean): void;
  sentCallbacks(): SentCallback[];
  /** Files stored by the upload endpoints. */
  uploadCount(): number;
  /** Finished input downloads (image_url, audio_url of each task), in the order they were started. */
  inputFetches(): InputFetch[];
}

type KieState = 'waiting' | 'queuing' | 'generating' | 'success' | 'fail';

interface SimTask {
  taskId: string;
  state: KieState;
  param: string;
  callBackUrl: string | null;
  failing: boolean;
  /** Set when the task ends 'fail'. */
  failCode: string;
  failMsg: string;
  credits: number;
  createTime: number;
  updateTime: number;
  completeTime: number | null;
}

interface StoredFile {
  data: Buffer;
  mimeType: string;
}

const MODEL = 'infinitalk/from-audio';
const CREATE = '/api/v1/jobs/createTask';
const RECORD = '/api/v1/jobs/recordInfo';
const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
const MIME_BY_EXT: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.aac': 'audio/aac',
  '.ogg': 'audio/ogg',
  '.m4a': 'audio/mp4',
  '.mp4': 'video/mp4',
};

class KieApiError extends Error {
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

const invalid = (message: string) => new KieApiError(422, message);

/** An injected HTTP fault in KIE's shape: 429 → 429, 503 → 455 (maintenance), other 5xx → 500. */
function kieFault(f: HttpFault): KieApiError {
  const headers: Record<string, string> = f.retryAfter !== undefined ? { 'retry-after': f.retryAfter } : {};
  if (f.status === 429) return new KieApiError(429, 'Rate limited (injected)', headers, 429);
  if (f.status === 503) return new KieApiError(455, 'Service unavailable: maintenance (injected)', headers, 503);
  return new KieApiError(500, 'Server error (injected)', headers, f.status);
}

export function mountKie(
  router: Router,
  opts: KieSimOptions,
  baseUrl: () => string,
): { controls: KieSimControls; stop(): Promise<void> } {
  const apiKey = opts.apiKey ?? 'sandbox-kie-key';
  const limit = opts.rateLimit ?? { creates: 20, windowMs: 10_000 };
  let timing: KieSimTiming = opts.timing ?? { queuingAfterMs: 500, generatingAfterMs: 1500, completeAfterMs: 5000 };
  let nextCreateError: KieSimError | null = null;
  let last: RecordedRequest | null = null;
  let requests = 0;
  let seq = 0;
  let remainedCredits = 10_000;

  const timers = new Timers();
  const faults = new HttpFaultState();
  const callbacks = new CallbackSender(
    timers,
    seededRandom(opts.seed ?? 1),
    opts.reorderHoldMs !== undefined ? { reorderHoldMs: opts.reorderHoldMs } : {},
  );
  const tasks = new Map<string, SimTask>();
  const admitted: number[] = [];
  const files = new Map<string, StoredFile>();
  const inputs = new InputFetcher(opts.fetchInputs ?? true);
  let sample: Buffer | undefined;

  function sendError(res: ServerResponse, e: KieApiError, extra: Record<string, unknown> = {}): void {
    const status = e.httpStatus ?? (opts.errorsWithHttp200 ? 200 : e.code >= 200 && e.code <= 599 ? e.code : 500);
    sendJson(res, status, { ...extra, code: e.code, [e.messageField]: e.message, data: null }, e.headers);
  }

  function authenticate(req: SimRequest): void {
    const m = /^Bearer\s+(.+)$/i.exec((req.headers.authorization ?? '').trim());
    if (!m || (m[1] ?? '').trim() !== apiKey) throw new KieApiError(401, 'You do not have access permissions');
  }

  function parseJson(req: SimRequest): Record<string, unknown> {
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw invalid('request body must be JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid('request body must be a JSON object');
    return body as Record<string, unknown>;
  }

  function requiredUrl(obj: Record<string, unknown>, field: string, label = field): string {
    const v = obj[field];
    if (typeof v !== 'string' || v.trim() === '') throw invalid(`${label} is required`);
    if (!/^https?:\/\//i.test(v)) throw invalid(`${label} must be an http(s) URL`);
    return v;
  }

  function serialize(t: SimTask): Record<string, unknown> {
    const done = t.state === 'success' || t.state === 'fail';
    return {
      taskId: t.taskId,
      model: MODEL,
      state: t.state,
      param: t.param,
      resultJson:
        t.state === 'success' ? JSON.stringify({ resultUrls: [`${baseUrl()}/media/kie/avatar-sample.mp4`] }) : '',
      failCode: t.state === 'fail' ? t.failCode : '',
      failMsg: t.state === 'fail' ? t.failMsg : '',
      costTime: done && t.completeTime !== null ? t.completeTime - t.createTime : null,
      completeTime: done ? t.completeTime : null,
      createTime: t.createTime,
      updateTime: t.updateTime,
    };
  }

  function transition(t: SimTask, state: KieState): void {
    t.state = state;
    t.updateTime = Math.max(Date.now(), t.updateTime + 1);
    if (state !== 'success' && state !== 'fail') return;
    t.completeTime = t.updateTime;
    if (state === 'success') remainedCredits -= t.credits;
    if (!t.callBackUrl) return;
    // One callback, at the terminal state. On failure its code mirrors failCode.
    const body = {
      code: state === 'success' ? 200 : Number(t.failCode) || 501,
      msg: state === 'success' ? 'Playground task completed successfully.' : 'Playground task failed.',
      data: { ...serialize(t), consumeCredits: state === 'success' ? t.credits : 0, remainedCredits },
    };
    const headers: Record<string, string> = {};
    if (opts.hmacKey !== undefined) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers['x-webhook-timestamp'] = timestamp;
      headers['x-webhook-signature'] = signKieCallback(t.taskId, timestamp, opts.hmacKey);
    }
    callbacks.send(t.taskId, t.callBackUrl, body, headers);
  }

  function checkRateLimit(): void {
    const now = Date.now();
    while (admitted.length > 0 && (admitted[0] as number) <= now - limit.windowMs) admitted.shift();
    if (admitted.length >= limit.creates) {
      const retryAfterS = Math.max(1, Math.ceil(((admitted[0] as number) + limit.windowMs - now) / 1000));
      throw new KieApiError(
        429,
        `Rate limit exceeded: at most ${limit.creates} createTask requests per ${limit.windowMs / 1000} s`,
        {
          'retry-after': String(retryAfterS),
        },
      );
    }
    admitted.push(now);
  }

  async function create(req: SimRequest, res: ServerResponse): Promise<void> {
    if (nextCreateError) {
      const e = nextCreateError;
      nextCreateError = null;
      throw new KieApiError(
        e.code,
        e.message ?? `error ${e.code} (injected)`,
        e.retryAfter !== undefined ? { 'retry-after': e.retryAfter } : {},
        e.httpStatus,
        e.messageField,
      );
    }
    checkRateLimit();
    const body = parseJson(req);
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
      (typeof callBackUrl !== 'string' || !/^https?:\/\//i.test(callBackUrl))
    ) {
      throw invalid('callBackUrl must be an http(s) URL');
    }

    seq += 1;
    const now = Date.now();
    const task: SimTask = {
      taskId: `task_infinitalk_${now}${String(seq).padStart(4, '0')}`,
      state: 'waiting',
      param: JSON.stringify(body),
      callBackUrl: typeof callBackUrl === 'string' ? callBackUrl : null,
      failing:
        opts.failPromptContains !== undefined &&
        opts.failPromptContains !== '' &&
        prompt.includes(opts.failPromptContains),
      failCode: '501',
      failMsg: 'Generation failed (simulated)',
      credits: resolution === '720p' ? 24 : 12,
      createTime: now,
      updateTime: now,
      completeTime: null,
    };
    tasks.set(task.taskId, task);
    const { queuingAfterMs, generatingAfterMs, completeAfterMs } = timing;
    // The inputs download while the task waits/queues; it turns 'generating' only once both are in
    // (at generatingAfterMs, or when the downloads finish if later), and generation then takes its
    // configured time: a late download shifts completion by as much as it delayed 'generating'.
    const downloaded = inputs.fetchAll([
      { field: 'input.image_url', url: imageUrl },
      { field: 'input.audio_url', url: audioUrl },
    ]);
    timers.later(queuingAfterMs, () => transition(task, 'queuing'));
    timers.later(Math.max(generatingAfterMs, queuingAfterMs + 1), () => {
      void downloaded.then((outcome) => {
        if (inputs.isStopped) return;
        if (!outcome.ok) {
          // What KIE reports for an input it cannot download is unconfirmed: a guess, 422 as for
          // its other input validation errors (501 "generation failed" is the alternative).
          task.failCode = '422';
          task.failMsg = `failed to download ${outcome.field} (${outcome.reason})`;
          transition(task, 'fail');
          return;
        }
        const generatingAt = Math.max(generatingAfterMs, queuingAfterMs + 1);
        const shift = Math.max(0, Date.now() - task.createTime - generatingAt);
        transition(task, 'generating');
        const completeAt = Math.max(completeAfterMs, generatingAfterMs + 2, queuingAfterMs + 2) + shift;
        timers.later(Math.max(1, task.createTime + completeAt - Date.now()), () =>
          transition(task, task.failing ? 'fail' : 'success'),
        );
      });
    });
    if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
    sendJson(res, 200, { code: 200, msg: 'success', data: { taskId: task.taskId } });
  }

  async function recordInfo(req: SimRequest, res: ServerResponse): Promise<void> {
    const taskId = req.url.searchParams.get('taskId') ?? '';
    if (taskId === '') throw invalid('taskId is required');
    const task = tasks.get(taskId);
    // KIE's exact answer for an unknown taskId is unconfirmed; 404 is the documented "not found".
    if (!task) throw new KieApiError(404, `task ${taskId} not found`);
    if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
    // recordInfo says `message`; createTask says `msg`.
    sendJson(res, 200, { code: 200, message: 'success', data: serialize(task) });
  }

  // ---- file upload API ----------------------------------------------------------------------

  function mimeFor(fileName: string, given?: string): string {
    const byExt = MIME_BY_EXT[extname(fileName).toLowerCase()];
    if (byExt) return byExt;
    return given && given !== '' ? given.split(';')[0]!.trim() : 'application/octet-stream';
  }

  function safeName(name: string): string {
    const base = name.split(/[\\/]/).pop() ?? '';
    return base.replace(/[^\w.-]+/g, '_') || 'file';
  }

  function store(data: Buffer, fileName: string, uploadPath: string, mimeType: string, res: ServerResponse): void {
    if (data.length === 0) throw new KieApiError(400, 'file is empty');
    if (data.length > MAX_UPLOAD_BYTES) throw new KieApiError(400, 'file is too large');
    const name = safeName(fileName);
    const id = randomUUID();
    files.set(`${id}/${name}`, { data, mimeType });
    const dir = uploadPath.replace(/^\/+|\/+$/g, '');
    sendJson(res, 200, {
      success: true,
      code: 200,
      msg: 'File uploaded successfully',
      data: {
        fileName: name,
        filePath: dir === '' ? name : `${dir}/${name}`,
        downloadUrl: `${baseUrl()}/files/kie/${id}/${encodeURIComponent(name)}`,
        fileSize: data.length,
        mimeType,
        uploadedAt: new Date().toISOString(),
      },
    });
  }

  function uploadPathOf(v: unknown): string {
    if (typeof v !== 'string' || v.trim() === '') throw new KieApiError(400, 'uploadPath is required');
    return v;
  }

  async function streamUpload(req: SimRequest, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data/i.test(type)) throw new KieApiError(400, 'expected multipart/form-data');
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(req.body), { headers: { 'content-type': type } }).formData();
    } catch {
      throw new KieApiError(400, 'malformed multipart body');
    }
    const file = form.get('file');
    if (file === null || typeof file === 'string') throw new KieApiError(400, 'file is required');
    const uploadPath = uploadPathOf(form.get('uploadPath'));
    const fileNameField = form.get('fileName');
    const fileName = typeof fileNameField === 'string' && fileNameField !== '' ? fileNameField : file.name || 'file';
    last = {
      ...(last as RecordedRequest),
      body: { file: { fileName: file.name, size: file.size, type: file.type }, uploadPath, fileName: fileNameField },
    };
    store(Buffer.from(await file.arrayBuffer()), fileName, uploadPath, mimeFor(fileName, file.type), res);
  }

  function base64Upload(req: SimRequest, res: ServerResponse): void {
    const body = parseJson(req);
    const raw = body['base64Data'];
    if (typeof raw !== 'string' || raw.trim() === '') throw new KieApiError(400, 'base64Data is required');
    const uploadPath = uploadPathOf(body['uploadPath']);
    const m = /^data:([^;,]*)(?:;[^;,]*)*;base64,(.*)$/is.exec(raw.trim());
    const payload = (m ? (m[2] ?? '') : raw).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new KieApiError(400, 'base64Data is not valid base64');
    const data = Buffer.from(payload, 'base64');
    const fileName =
      typeof body['fileName'] === 'string' && body['fileName'] !== ''
        ? (body['fileName'] as string)
        : `${randomUUID()}`;
    store(data, fileName, uploadPath, mimeFor(fileName, m?.[1]), res);
  }

  async function urlUpload(req: SimRequest, res: ServerResponse): Promise<void> {
    const body = parseJson(req);
    const fileUrl = body['fileUrl'];
    if (typeof fileUrl !== 'string' || !/^https?:\/\//i.test(fileUrl))
      throw new KieApiError(400, 'fileUrl must be an http(s) URL');
    const uploadPath = uploadPathOf(body['uploadPath']);
    let data: Buffer;
    let contentType: string | undefined;
    try {
      const r = await request(fileUrl, {
        headersTimeout: 5000,
        bodyTimeout: 5000,
        signal: AbortSignal.timeout(10_000),
      });
      if (r.statusCode !== 200) {
        await r.body.dump();
        throw new Error(`HTTP ${r.statusCode}`);
      }
      data = Buffer.from(await r.body.arrayBuffer());
      const ct = r.headers['content-type'];
      contentType = Array.isArray(ct) ? ct[0] : ct;
    } catch (err) {
      throw new KieApiError(400, `could not download fileUrl: ${err instanceof Error ? err.message : String(err)}`);
    }
    const fromUrl = decodeURIComponent(new URL(fileUrl).pathname.split('/').pop() ?? '');
    const fileName =
      typeof body['fileName'] === 'string' && body['fileName'] !== ''
        ? (body['fileName'] as string)
        : fromUrl || randomUUID();
    store(data, fileName, uploadPath, mimeFor(fileName, contentType), res);
  }

  const api =
    (
      isCreate: boolean,
      handler: (req: SimRequest, res: ServerResponse) => void | Promise<void>,
      extra: Record<string, unknown> = {},
    ) =>
    async (req: SimRequest, res: ServerResponse): Promise<void> => {
      requests += 1;
      last = {
        method: req.method,
        path: req.url.pathname + req.url.search,
        headers: req.headers,
        body: bodyForRecord(req.body, req.headers['content-type']),
      };
      try {
        authenticate(req);
        const fault = faults.take(isCreate);
        if (fault) throw kieFault(fault);
        await handler(req, res);
      } catch (err) {
        const e = err instanceof KieApiError ? err : new KieApiError(500, 'Server error');
        if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
        sendError(res, e, extra);
      }
    };
  const uploadError = { success: false };
  const delayedUpload =
    (handler: (req: SimRequest, res: ServerResponse) => void | Promise<void>) =>
    async (req: SimRequest, res: ServerResponse): Promise<void> => {
      if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
      await handler(req, res);
    };

  router
    .on('POST', CREATE, api(true, create))
    .on('GET', RECORD, api(false, recordInfo))
    .on('POST', '/api/file-stream-upload', api(false, delayedUpload(streamUpload), uploadError))
    .on('POST', '/api/file-base64-upload', api(false, delayedUpload(base64Upload), uploadError))
    .on('POST', '/api/file-url-upload', api(false, delayedUpload(urlUpload), uploadError))
    .on('GET', '/files/kie/:id/:name', (req, res) => {
      const f = files.get(`${req.params['id'] ?? ''}/${req.params['name'] ?? ''}`);
      if (!f) {
        sendJson(res, 404, { code: 404, msg: 'file not found' });
        return;
      }
      sendBytes(req, res, f.data, f.mimeType);
    })
    .on('GET', '/media/kie/avatar-sample.mp4', async (req, res) => {
      sample ??= await readFile(join(mediaDir, 'avatar-sample.mp4'));
      sendBytes(req, res, sample, 'video/mp4');
    });

  const controls: KieSimControls = {
    createCount: () => tasks.size,
    requestCount: () => requests,
    lastRequest: () => last,
    setTiming: (t) => {
      timing = { ...t };
    },
    setNextCreateError: (e) => {
      nextCreateError = e;
    },
    setCallbacksEnabled: (on) => callbacks.setEnabled(on),
    sentCallbacks: () => callbacks.sent(),
    uploadCount: () => files.size,
    inputFetches: () => inputs.records(),
    setLatencyMs: (ms) => {
      faults.latencyMs = ms;
    },
    failNext: (f) => faults.failNext(f),
    setCallbackFaults: (f) => callbacks.setFaults(f),
    clearFaults: () => {
      faults.clear();
      callbacks.setFaults({});
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
