import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { requireId, retryAfterOf } from '../errors.js';
import { callEnvelopeApi, sharedHttpDispatcher, type EnvelopeApi } from '../http.js';
import { createHeaders, type CreateOptions } from '../sandbox.js';
import { classifyDigitalHumanError } from './errors.js';
import {
  digitalHumanCreateDataSchema,
  digitalHumanEnvelopeSchema,
  digitalHumanTaskSchema,
  type DigitalHumanEnvelope,
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
  async createGeneration(req: DigitalHumanGenerationRequest, opts?: CreateOptions): Promise<string> {
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
    return this.call('POST', '/avatar/generation', body, digitalHumanCreateDataSchema, createHeaders(opts));
  }

  async getTask(taskId: string): Promise<DigitalHumanTask> {
    const id = requireId('digital_human', 'taskId', taskId);
    return this.call('GET', `/avatar/task/${encodeURIComponent(id)}`, undefined, digitalHumanTaskSchema);
  }

  private call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    json: object | undefined,
    dataSchema: S,
    headers: Record<string, string> = {},
  ): Promise<z.output<S>> {
    const req = {
      method,
      url: this.baseUrl + path,
      bearer: this.apiKey,
      json,
      headers,
      dispatcher: this.dispatcher,
      timeoutMs: this.timeoutMs,
    };
    return callEnvelopeApi(DIGITAL_HUMAN_API, req, dataSchema);
  }
}

const DIGITAL_HUMAN_API: EnvelopeApi<DigitalHumanEnvelope> = {
  provider: 'digital_human',
  envelope: digitalHumanEnvelopeSchema,
  envelopeName: 'an envelope',
  rateLimitWithoutEnvelope: true,
  read: (env, res) =>
    env.ok && res.status < 300
      ? { data: env.data }
      : classifyDigitalHumanError({
          httpStatus: res.status,
          code: env.ok ? '' : env.code,
          message: env.message,
          ...retryAfterOf(res.headers),
        }),
};
