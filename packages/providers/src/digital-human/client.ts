import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { ProviderError, parseRetryAfter, protocolError } from '../errors.js';
import { sendHttpRequest, sharedHttpDispatcher, type HttpResponse } from '../http.js';
import { classifyDigitalHumanError } from './errors.js';
import {
  digitalHumanCreateDataSchema,
  digitalHumanEnvelopeSchema,
  digitalHumanTaskSchema,
  type DigitalHumanTask,
} from './schemas.js';

export interface DigitalHumanClientOptions {
  /** The reseller's base URL (no default: every reseller has its own). */
  baseUrl: string;
  apiKey: string;
  dispatcher?: Dispatcher;
  /** Per request: headers timeout, body timeout and overall deadline. Default 30000. */
  timeoutMs?: number;
}

export interface DigitalHumanVoiceClone {
  /** Speech to clone the voice from (≥20 s). */
  audioUrl: string;
  /** e.g. 'en', 'cn'. */
  language: string;
  text: string;
}

export interface DigitalHumanStockVoice {
  voiceEngineId: string;
  audioId: string;
  language: string;
  text: string;
}

/** Exactly one of the three documented forms. `avatarUrl` is an image with a face, or a video. */
export type DigitalHumanGenerationRequest =
  | { audioUrl: string; avatarUrl: string; noWatermark?: boolean; createVoice?: never; useVoice?: never }
  | { createVoice: DigitalHumanVoiceClone; avatarUrl: string; audioUrl?: never; noWatermark?: never; useVoice?: never }
  | { useVoice: DigitalHumanStockVoice; avatarUrl: string; audioUrl?: never; noWatermark?: never; createVoice?: never };

/** Wire body of POST /avatar/generation. */
export interface DigitalHumanGenerationBody {
  avatar_url: string;
  audio_url?: string;
  no_watermark?: boolean;
  create_voice?: { audio_url: string; language: string; text: string };
  use_voice?: { voice_engine_id: string; audio_id: string; language: string; text: string };
}

/** Client for the "数字人" reseller's standard avatar API. No callbacks: poll getTask. */
export class DigitalHumanClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;

  constructor(opts: DigitalHumanClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.dispatcher = opts.dispatcher ?? sharedHttpDispatcher();
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Submits a generation; returns the task id. The reseller has no client-chosen id: persist it at once. */
  async createGeneration(req: DigitalHumanGenerationRequest): Promise<string> {
    // Every given field is mapped; the reseller (and its simulator) rejects bodies matching no or several forms.
    const body: DigitalHumanGenerationBody = { avatar_url: req.avatarUrl };
    if (req.audioUrl !== undefined) body.audio_url = req.audioUrl;
    if (req.noWatermark !== undefined) body.no_watermark = req.noWatermark;
    if (req.createVoice !== undefined) {
      body.create_voice = {
        audio_url: req.createVoice.audioUrl,
        language: req.createVoice.language,
        text: req.createVoice.text,
      };
    }
    if (req.useVoice !== undefined) {
      body.use_voice = {
        voice_engine_id: req.useVoice.voiceEngineId,
        audio_id: req.useVoice.audioId,
        language: req.useVoice.language,
        text: req.useVoice.text,
      };
    }
    return this.call('POST', '/avatar/generation', body, digitalHumanCreateDataSchema);
  }

  async getTask(taskId: string): Promise<DigitalHumanTask> {
    if (typeof taskId !== 'string' || taskId === '') {
      throw new ProviderError({
        provider: 'digital_human',
        code: 'INVALID_ARGUMENT',
        kind: 'validation',
        retryable: false,
        message: 'digital_human: taskId must be a non-empty string',
      });
    }
    return this.call('GET', `/avatar/task/${encodeURIComponent(taskId)}`, undefined, digitalHumanTaskSchema);
  }

  private async call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    body: object | undefined,
    dataSchema: S,
  ): Promise<z.output<S>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await sendHttpRequest('digital_human', {
      method,
      url: this.baseUrl + path,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      dispatcher: this.dispatcher,
      timeoutMs: this.timeoutMs,
    });
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      json = undefined;
    }
    const envelope = digitalHumanEnvelopeSchema.safeParse(json);
    if (!envelope.success) {
      if (res.status >= 500 || res.status === 429) {
        throw new ProviderError({
          provider: 'digital_human',
          code: `HTTP_${res.status}`,
          kind: res.status === 429 ? 'rate_limit' : 'upstream',
          retryable: true,
          httpStatus: res.status,
          message: `digital_human: HTTP ${res.status} without an envelope`,
          ...retryAfter(res),
        });
      }
      throw protocolError('digital_human', `unparseable response (HTTP ${res.status})`, { httpStatus: res.status });
    }
    const env = envelope.data;
    if (env.ok && res.status < 300) {
      const data = dataSchema.safeParse(env.data);
      if (!data.success) {
        throw protocolError('digital_human', `unexpected response data: ${data.error.message}`, {
          httpStatus: res.status,
          cause: data.error,
        });
      }
      return data.data;
    }
    throw classifyDigitalHumanError({
      httpStatus: res.status,
      code: env.ok ? '' : env.code,
      message: env.message,
      ...retryAfter(res),
    });
  }
}

function retryAfter(res: HttpResponse): { retryAfterMs?: number } {
  const ms = parseRetryAfter(res.headers['retry-after']);
  return ms === undefined ? {} : { retryAfterMs: ms };
}
