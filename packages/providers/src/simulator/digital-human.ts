import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import {
  HttpFaultState,
  Timers,
  bodyForRecord,
  type FaultControls,
  type HttpFault,
  type RecordedRequest,
} from './faults.js';
import { InputFetcher, type InputFetch, type NamedInput } from './inputs.js';
import { mediaDir } from './media.js';
import { sendBytes, sendJson, type Router, type SimRequest } from './server.js';

/*
 * "数字人" reseller sandbox: POST /avatar/generation (exactly one of three body forms) and
 * GET /avatar/task/{id}, answering `{code:"success", message, data}`. No callbacks (none are
 * documented). Error bodies are a guess at its new-api style gateway: `{code:"<snake_case>", message, data:null}`
 * with a matching HTTP status.
 */

export interface DigitalHumanSimTiming {
  /** ms after creation at which NOT_START turns SUBMITTED. */
  submittedAfterMs: number;
  /** … QUEUED. */
  queuedAfterMs: number;
  /** … IN_PROGRESS (progress then climbs from 10% to 90%). */
  inProgressAfterMs: number;
  /** … SUCCESS or FAILURE. */
  finishAfterMs: number;
}

export interface DigitalHumanSimOptions {
  /** Accepted key. Default 'sandbox-dh-key'. */
  apiKey?: string;
  /** Default 200 / 600 / 1200 / 5000 ms. */
  timing?: DigitalHumanSimTiming;
  /** A body whose avatar_url or text contains this ends FAILURE with a fail_reason. */
  failWhenContains?: string;
  /**
   * Download avatar_url and the audio URL (audio_url or create_voice.audio_url) after a create,
   * before the task may turn IN_PROGRESS. A failed download ends it FAILURE with a fail_reason
   * naming the field. Default true; false skips the downloads (inputs count as fetched).
   */
  fetchInputs?: boolean;
}

export interface DigitalHumanSimError {
  httpStatus: number;
  /** The reseller's string code, e.g. 'insufficient_quota'. */
  code: string;
  message?: string;
  retryAfter?: string;
}

export interface DigitalHumanSimControls extends FaultControls {
  /** Tasks accepted so far. */
  createCount(): number;
  requestCount(): number;
  lastRequest(): RecordedRequest | null;
  setTiming(t: DigitalHumanSimTiming): void;
  /** The next authenticated create answers with this error (one shot); null clears it. */
  setNextCreateError(e: DigitalHumanSimError | null): void;
  /** Finished input downloads (avatar_url, then the audio URL, of each task), in the order they were started. */
  inputFetches(): InputFetch[];
}

type DhStatus = 'NOT_START' | 'SUBMITTED' | 'QUEUED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE';
type Form = 'audio' | 'create_voice' | 'use_voice';

interface SimTask {
  taskId: string;
  form: Form;
  noWatermark: boolean;
  failing: boolean;
  /** Until the input downloads finish: undefined. Then when they did, and why they failed (if so). */
  inputs?: { doneAt: number; failReason: string | null };
  createdAt: number;
  /** Timing as of creation (setTiming affects later tasks only). */
  timing: DigitalHumanSimTiming;
}

const MEDIA_FILES: Record<string, string> = {
  'avatar-sample.mp4': 'video/mp4',
  'avatar-sample-watermarked.mp4': 'video/mp4',
};

class DhApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const invalid = (message: string) => new DhApiError(400, 'invalid_request', message);

function dhFault(f: HttpFault): DhApiError {
  const headers: Record<string, string> = f.retryAfter !== undefined ? { 'retry-after': f.retryAfter } : {};
  if (f.status === 429) return new DhApiError(429, 'rate_limit_exceeded', 'too many requests (injected)', headers);
  if (f.status === 503) return new DhApiError(503, 'service_unavailable', 'service unavailable (injected)', headers);
  return new DhApiError(f.status, 'server_error', 'upstream server error (injected)', headers);
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export function mountDigitalHuman(
  router: Router,
  opts: DigitalHumanSimOptions,
  baseUrl: () => string,
): { controls: DigitalHumanSimControls; stop(): Promise<void> } {
  const apiKey = opts.apiKey ?? 'sandbox-dh-key';
  let timing: DigitalHumanSimTiming = opts.timing ?? {
    submittedAfterMs: 200,
    queuedAfterMs: 600,
    inProgressAfterMs: 1200,
    finishAfterMs: 5000,
  };
  let nextCreateError: DigitalHumanSimError | null = null;
  let last: RecordedRequest | null = null;
  let requests = 0;
  const timers = new Timers();
  const faults = new HttpFaultState();
  const tasks = new Map<string, SimTask>();
  const media = new Map<string, Buffer>();
  const inputs = new InputFetcher(opts.fetchInputs ?? true);

  function sendError(res: ServerResponse, e: DhApiError): void {
    sendJson(res, e.httpStatus, { code: e.code, message: e.message, data: null }, e.headers);
  }

  function authenticate(req: SimRequest): void {
    const m = /^Bearer\s+(.+)$/i.exec((req.headers.authorization ?? '').trim());
    if (!m || (m[1] ?? '').trim() !== apiKey) throw new DhApiError(401, 'unauthorized', 'invalid or missing API key');
  }

  function str(obj: Record<string, unknown>, field: string, label: string, url = false): string {
    const v = obj[field];
    if (typeof v !== 'string' || v.trim() === '') throw invalid(`${label} is required`);
    if (url && !/^https?:\/\//i.test(v)) throw invalid(`${label} must be an http(s) URL`);
    return v;
  }

  function object(v: unknown, label: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${label} must be an object`);
    return v as Record<string, unknown>;
  }

  /** Returns the form and the texts to test for failWhenContains; throws for none or several forms. */
  function validate(body: Record<string, unknown>): {
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
      throw invalid(
        `body must match exactly one form: audio_url, create_voice or use_voice (got ${forms.join(' + ')})`,
      );
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
          { field: 'audio_url', url: audioUrl },
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

  /**
   * When the task turns IN_PROGRESS and when it finishes, ms after creation; undefined while the
   * inputs are still downloading and IN_PROGRESS is due (it stays QUEUED until they are in).
   */
  function schedule(t: SimTask, now: number): { startMs: number; finishMs: number } | undefined {
    const { inProgressAfterMs, finishAfterMs } = t.timing;
    if (t.inputs === undefined)
      return now - t.createdAt >= inProgressAfterMs
        ? undefined
        : { startMs: inProgressAfterMs, finishMs: finishAfterMs };
    // A late download shifts both IN_PROGRESS and the finish; a failed one fails the task right when it would have started.
    const shift = Math.max(0, t.inputs.doneAt - t.createdAt - inProgressAfterMs);
    const startMs = inProgressAfterMs + shift;
    const finishMs = t.inputs.failReason !== null ? startMs : Math.max(finishAfterMs, inProgressAfterMs + 1) + shift;
    return { startMs, finishMs };
  }

  function statusAt(t: SimTask, now: number): DhStatus {
    const e = now - t.createdAt;
    const s = schedule(t, now);
    if (s === undefined) return 'QUEUED';
    if (e >= s.finishMs) return t.failing || t.inputs?.failReason ? 'FAILURE' : 'SUCCESS';
    if (e >= s.startMs) return 'IN_PROGRESS';
    if (e >= t.timing.queuedAfterMs) return 'QUEUED';
    if (e >= t.timing.submittedAfterMs) return 'SUBMITTED';
    return 'NOT_START';
  }

  function serialize(t: SimTask): Record<string, unknown> {
    const now = Date.now();
    const status = statusAt(t, now);
    const { startMs: inProgressAfterMs, finishMs: finishAfterMs } = schedule(t, now) ?? { startMs: 0, finishMs: 0 };
    let progress = '0%';
    if (status === 'IN_PROGRESS') {
      const f = (now - t.createdAt - inProgressAfterMs) / Math.max(1, finishAfterMs - inProgressAfterMs);
      progress = `${Math.min(90, Math.floor(10 + 80 * f))}%`;
    } else if (status === 'SUCCESS') progress = '100%';
    const started = status === 'IN_PROGRESS' || status === 'SUCCESS' || status === 'FAILURE';
    const done = status === 'SUCCESS' || status === 'FAILURE';
    const base = `${baseUrl()}/media/dh`;
    const clean = `${base}/avatar-sample.mp4`;
    const wm = `${base}/avatar-sample-watermarked.mp4`;
    return {
      task_id: t.taskId,
      // The real values of `action` are undocumented; the sandbox names the body form.
      action: t.form,
      status,
      fail_reason: status === 'FAILURE' ? (t.inputs?.failReason ?? 'no face detected in avatar (simulated)') : '',
      submit_time: seconds(t.createdAt),
      start_time: started ? seconds(t.createdAt + inProgressAfterMs) : 0,
      finish_time: done ? seconds(t.createdAt + finishAfterMs) : 0,
      progress,
      data:
        status === 'SUCCESS'
          ? {
              id: t.taskId,
              // With no_watermark the clean file is both; otherwise the work video is watermarked and no_wm is empty.
              work_video_path: t.noWatermark ? clean : wm,
              wm_work_video_path: wm,
              no_wm_work_video_path: t.noWatermark ? clean : '',
              work_webp_path: '',
            }
          : null,
    };
  }

  async function create(req: SimRequest, res: ServerResponse): Promise<void> {
    if (nextCreateError) {
      const e = nextCreateError;
      nextCreateError = null;
      throw new DhApiError(
        e.httpStatus,
        e.code,
        e.message ?? `${e.code} (injected)`,
        e.retryAfter !== undefined ? { 'retry-after': e.retryAfter } : {},
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw invalid('request body must be JSON');
    }
    const body = object(parsed, 'request body');
    const { form, texts, noWatermark, urls } = validate(body);
    const fail = opts.failWhenContains;
    const task: SimTask = {
      taskId: randomUUID().replace(/-/g, ''),
      form,
      noWatermark,
      failing: fail !== undefined && fail !== '' && texts.some((t) => t.includes(fail)),
      createdAt: Date.now(),
      timing: { ...timing },
    };
    tasks.set(task.taskId, task);
    void inputs.fetchAll(urls).then((outcome) => {
      if (inputs.isStopped) return;
      task.inputs = {
        doneAt: Date.now(),
        failReason: outcome.ok ? null : `failed to download ${outcome.field} (${outcome.reason})`,
      };
    });
    if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
    sendJson(res, 200, { code: 'success', message: '', data: task.taskId });
  }

  async function get(req: SimRequest, res: ServerResponse): Promise<void> {
    const id = req.params['id'] ?? '';
    const task = tasks.get(id);
    if (!task) throw new DhApiError(404, 'task_not_found', `task ${id} not found`);
    if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
    sendJson(res, 200, { code: 'success', message: '', data: serialize(task) });
  }

  const api =
    (isCreate: boolean, handler: (req: SimRequest, res: ServerResponse) => Promise<void>) =>
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
        if (fault) throw dhFault(fault);
        await handler(req, res);
      } catch (err) {
        const e = err instanceof DhApiError ? err : new DhApiError(500, 'server_error', 'internal error');
        if (faults.latencyMs > 0) await timers.sleep(faults.latencyMs);
        sendError(res, e);
      }
    };

  router
    .on('POST', '/avatar/generation', api(true, create))
    .on('GET', '/avatar/task/:id', api(false, get))
    .on('GET', '/media/dh/:file', async (req, res) => {
      const file = req.params['file'] ?? '';
      const type = MEDIA_FILES[file];
      if (type === undefined) {
        sendJson(res, 404, { code: 'not_found', message: 'not found', data: null });
        return;
      }
      let data = media.get(file);
      if (!data) {
        data = await readFile(join(mediaDir, file));
        media.set(file, data);
      }
      sendBytes(req, res, data, type);
    });

  const controls: DigitalHumanSimControls = {
    createCount: () => tasks.size,
    requestCount: () => requests,
    lastRequest: () => last,
    setTiming: (t) => {
      timing = { ...t };
    },
    setNextCreateError: (e) => {
      nextCreateError = e;
    },
    inputFetches: () => inputs.records(),
    setLatencyMs: (ms) => {
      faults.latencyMs = ms;
    },
    failNext: (f) => faults.failNext(f),
    clearFaults: () => {
      faults.clear();
      nextCreateError = null;
    },
  };

  return {
    controls,
    async stop() {
      timers.clear();
      await inputs.stop();
    },
  };
}
