import type { Dispatcher } from 'undici';
import { FormData } from 'undici';
import type { z } from 'zod';
import { requireId, retryAfterOf } from '../errors.js';
import { callEnvelopeApi, sharedHttpDispatcher, type EnvelopeApi } from '../http.js';
import { createHeaders, type CreateOptions } from '../sandbox.js';
import { classifyKieError } from './errors.js';
import {
  kieCreateDataSchema,
  kieEnvelopeSchema,
  kieTaskSchema,
  kieUploadDataSchema,
  type KieEnvelope,
  type KieTask,
  type KieUploadedFile,
} from './schemas.js';

export const KIE_INFINITALK_MODEL = 'infinitalk/from-audio';

export interface KieClientOptions {
  apiKey: string;
  /** Market API. Default https://api.kie.ai. */
  baseUrl?: string;
  /** File-upload API. Default https://kieai.redpandaai.co. */
  uploadBaseUrl?: string;
  dispatcher?: Dispatcher;
  /** Per request: headers timeout, body timeout and overall deadline. Default 30000. */
  timeoutMs?: number;
  /** For uploads (bigger bodies). Default 120000. */
  uploadTimeoutMs?: number;
}

export interface KieCreateTaskRequest {
  /** A URL (jpeg/png/webp ≤10 MB); upload local files first. */
  imageUrl: string;
  /** A URL (mpeg/wav/x-wav/aac/mp4/ogg ≤10 MB). */
  audioUrl: string;
  /** Required, at most 5000 characters. */
  prompt: string;
  /** KIE's default is 480p. */
  resolution?: '480p' | '720p';
  /** 10000–1000000. */
  seed?: number;
  /** Receives one POST at the terminal state. */
  callBackUrl?: string;
}

/** Wire body of POST /api/v1/jobs/createTask. */
export interface KieCreateTaskBody {
  model: typeof KIE_INFINITALK_MODEL;
  callBackUrl?: string;
  input: { image_url: string; audio_url: string; prompt: string; resolution?: '480p' | '720p'; seed?: number };
}

/** Client for KIE.ai's market API (model infinitalk/from-audio) and its file-upload API. */
export class KieClient {
  private readonly baseUrl: string;
  private readonly uploadBaseUrl: string;
  private readonly apiKey: string;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly uploadTimeoutMs: number;

  constructor(opts: KieClientOptions) {
    this.apiKey = opts.apiKey;
    this.baseUrl = (opts.baseUrl ?? 'https://api.kie.ai').replace(/\/+$/, '');
    this.uploadBaseUrl = (opts.uploadBaseUrl ?? 'https://kieai.redpandaai.co').replace(/\/+$/, '');
    this.dispatcher = opts.dispatcher ?? sharedHttpDispatcher();
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.uploadTimeoutMs = opts.uploadTimeoutMs ?? 120_000;
  }

  /** Submits an infinitalk/from-audio task; returns KIE's taskId. KIE has no client-chosen id: persist it at once. */
  async createTask(req: KieCreateTaskRequest, opts?: CreateOptions): Promise<string> {
    const body: KieCreateTaskBody = {
      model: KIE_INFINITALK_MODEL,
      input: { image_url: req.imageUrl, audio_url: req.audioUrl, prompt: req.prompt },
    };
    if (req.resolution !== undefined) body.input.resolution = req.resolution;
    if (req.seed !== undefined) body.input.seed = req.seed;
    if (req.callBackUrl !== undefined) body.callBackUrl = req.callBackUrl;
    return this.call(
      this.baseUrl,
      'POST',
      '/api/v1/jobs/createTask',
      { json: body, headers: createHeaders(opts) },
      kieCreateDataSchema,
      this.timeoutMs,
    );
  }

  /** Task detail (free; not rate limited). */
  async recordInfo(taskId: string): Promise<KieTask> {
    const id = requireId('kie', 'taskId', taskId);
    return this.call(
      this.baseUrl,
      'GET',
      `/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(id)}`,
      {},
      kieTaskSchema,
      this.timeoutMs,
    );
  }

  /** Multipart upload of bytes. Files are deleted by KIE after 3 days. */
  async uploadStream(bytes: Uint8Array | Blob, fileName: string, uploadPath: string): Promise<KieUploadedFile> {
    const form = new FormData();
    // Copied into a plain ArrayBuffer-backed view: BlobPart rejects SharedArrayBuffer-backed ones.
    const blob = bytes instanceof Blob ? bytes : new Blob([new Uint8Array(bytes)]);
    form.append('file', blob, fileName);
    form.append('uploadPath', uploadPath);
    form.append('fileName', fileName);
    return this.upload('/api/file-stream-upload', { form });
  }

  /** Upload of base64 data (raw, or a `data:<mime>;base64,` URL). */
  async uploadBase64(base64Data: string, uploadPath: string, fileName?: string): Promise<KieUploadedFile> {
    return this.upload('/api/file-base64-upload', { json: withFileName({ base64Data, uploadPath }, fileName) });
  }

  /** KIE downloads `fileUrl` and stores it. */
  async uploadFromUrl(fileUrl: string, uploadPath: string, fileName?: string): Promise<KieUploadedFile> {
    return this.upload('/api/file-url-upload', { json: withFileName({ fileUrl, uploadPath }, fileName) });
  }

  private upload(path: string, body: { json?: object; form?: FormData }): Promise<KieUploadedFile> {
    return this.call(this.uploadBaseUrl, 'POST', path, body, kieUploadDataSchema, this.uploadTimeoutMs);
  }

  private call<S extends z.ZodType>(
    base: string,
    method: 'GET' | 'POST',
    path: string,
    body: { json?: object; form?: FormData; headers?: Record<string, string> },
    dataSchema: S,
    timeoutMs: number,
  ): Promise<z.output<S>> {
    const req = { method, url: base + path, bearer: this.apiKey, ...body, dispatcher: this.dispatcher, timeoutMs };
    return callEnvelopeApi(KIE_API, req, dataSchema);
  }
}

function withFileName(body: Record<string, string>, fileName: string | undefined): Record<string, string> {
  return fileName !== undefined ? { ...body, fileName } : body;
}

const KIE_API: EnvelopeApi<KieEnvelope> = {
  provider: 'kie',
  envelope: kieEnvelopeSchema,
  envelopeName: 'a KIE envelope',
  // The body code decides, whatever the HTTP status (errors often come with HTTP 200).
  read: (env, res) =>
    env.code === 200 && env.success !== false
      ? { data: env.data }
      : classifyKieError({
          httpStatus: res.status,
          code: env.code,
          message: env.message,
          ...retryAfterOf(res.headers),
        }),
};
