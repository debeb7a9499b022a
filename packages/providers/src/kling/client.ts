import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { invalidArgument, requireId, retryAfterOf } from '../errors.js';
import { callEnvelopeApi, sharedHttpDispatcher, type EnvelopeApi } from '../http.js';
import { createHeaders, type CreateOptions } from '../sandbox.js';
import { KlingTokenSource, type KlingAuth } from './auth.js';
import { classifyKlingError, isTokenRefreshError } from './errors.js';
import {
  klingEnvelopeSchema,
  type KlingEnvelope,
  klingTaskListSchema,
  klingTaskSchema,
  type KlingAvatarCreateBody,
  type KlingTask,
  type KlingVideoToAudioCreateBody,
} from './schemas.js';

export interface KlingClientOptions {
  /** e.g. https://api-singapore.klingai.com, https://api-beijing.klingai.com, or a simulator URL. */
  baseUrl: string;
  auth: KlingAuth;
  dispatcher?: Dispatcher;
  /** Per request: headers timeout, body timeout and overall deadline. Default 30000. */
  timeoutMs?: number;
  /** Clock for JWT claims, ms since epoch. Default Date.now. */
  now?: () => number;
}

/** Exactly one of audioId / soundFile (Kling rejects neither and both). */
export type KlingAvatarAudio = { audioId: string; soundFile?: never } | { soundFile: string; audioId?: never };

export type CreateAvatarVideoRequest = KlingAvatarAudio & {
  /** Image URL, or raw base64 without any `data:` prefix (Kling rejects the prefix). */
  image: string;
  /** At most 2500 characters. */
  prompt?: string;
  mode?: 'std' | 'pro';
  /** Also produce a watermarked variant. */
  watermark?: boolean;
  callbackUrl?: string;
  /** Our own id, unique per account; usable for lookup after an uncertain submit. */
  externalTaskId?: string;
};

export type GetAvatarVideoRequest = { taskId: string } | { externalTaskId: string };

export interface ListAvatarVideosRequest {
  /** 1–1000, default 1. */
  pageNum?: number;
  /** 1–500, default 30. */
  pageSize?: number;
}

/** Exactly one of videoId (a Kling-generated video, ≤30 days old) / videoUrl (mp4/mov, ≤100 MB, 3.0–20.0 s). */
export type KlingVideoToAudioSource = { videoId: string; videoUrl?: never } | { videoUrl: string; videoId?: never };

export type CreateVideoToAudioRequest = KlingVideoToAudioSource & {
  /** Sound-effect prompt, at most 200 characters. */
  soundEffectPrompt?: string;
  /** Background-music prompt, at most 200 characters. */
  bgmPrompt?: string;
  /** Richer detail sounds for immersive content. Kling's default is false. */
  asmrMode?: boolean;
  callbackUrl?: string;
  /** Our own id, unique per account; usable for lookup after an uncertain submit. */
  externalTaskId?: string;
};

export type GetVideoToAudioRequest = GetAvatarVideoRequest;
export type ListVideoToAudioRequest = ListAvatarVideosRequest;

const AVATAR_PATH = '/v1/videos/avatar/image2video';
const VIDEO_TO_AUDIO_PATH = '/v1/audio/video-to-audio';

function checkRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument('kling', `${field} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/**
 * Client for Kling's avatar (image + speech → talking video) and video-to-audio (video → sound
 * effects / music) endpoints. One auth, envelope and error core for both.
 */
export class KlingClient {
  private readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly tokens: KlingTokenSource;

  constructor(opts: KlingClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.dispatcher = opts.dispatcher ?? sharedHttpDispatcher();
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.tokens = new KlingTokenSource(opts.auth, opts.now ?? Date.now);
  }

  /** Number of AK/SK JWTs signed by this client (0 with a static key). */
  get tokensMinted(): number {
    return this.tokens.mintedCount;
  }

  async createAvatarVideo(req: CreateAvatarVideoRequest, opts?: CreateOptions): Promise<KlingTask> {
    const body: KlingAvatarCreateBody = { image: req.image };
    if (req.audioId !== undefined) body.audio_id = req.audioId;
    if (req.soundFile !== undefined) body.sound_file = req.soundFile;
    if (req.prompt !== undefined) body.prompt = req.prompt;
    if (req.mode !== undefined) body.mode = req.mode;
    // Documented as "array" in one page and as {enabled} in the other; {enabled} is what works.
    if (req.watermark !== undefined) body.watermark_info = { enabled: req.watermark };
    if (req.callbackUrl !== undefined) body.callback_url = req.callbackUrl;
    if (req.externalTaskId !== undefined) body.external_task_id = req.externalTaskId;
    return this.call('POST', AVATAR_PATH, body, klingTaskSchema, createHeaders(opts));
  }

  /** Query by Kling's task_id or by our external_task_id (same path; Kling accepts either). */
  async getAvatarVideo(req: GetAvatarVideoRequest): Promise<KlingTask> {
    return this.getTask(AVATAR_PATH, req);
  }

  /** One page, newest first. Kling returns no total and supports no filters. */
  async listAvatarVideos(req: ListAvatarVideosRequest = {}): Promise<KlingTask[]> {
    return this.listTasks(AVATAR_PATH, req);
  }

  /**
   * Generates sound effects and/or background music for a video. The result carries `audios`
   * (mp3 + wav), `videos` (the input with the sound mixed in) and `parentVideo`.
   */
  async createVideoToAudio(req: CreateVideoToAudioRequest, opts?: CreateOptions): Promise<KlingTask> {
    const body: KlingVideoToAudioCreateBody = {};
    if (req.videoId !== undefined) body.video_id = req.videoId;
    if (req.videoUrl !== undefined) body.video_url = req.videoUrl;
    if (req.soundEffectPrompt !== undefined) body.sound_effect_prompt = req.soundEffectPrompt;
    if (req.bgmPrompt !== undefined) body.bgm_prompt = req.bgmPrompt;
    if (req.asmrMode !== undefined) body.asmr_mode = req.asmrMode;
    if (req.callbackUrl !== undefined) body.callback_url = req.callbackUrl;
    if (req.externalTaskId !== undefined) body.external_task_id = req.externalTaskId;
    return this.call('POST', VIDEO_TO_AUDIO_PATH, body, klingTaskSchema, createHeaders(opts));
  }

  /** Query by Kling's task_id or by our external_task_id. */
  async getVideoToAudio(req: GetVideoToAudioRequest): Promise<KlingTask> {
    return this.getTask(VIDEO_TO_AUDIO_PATH, req);
  }

  /** One page, newest first. */
  async listVideoToAudio(req: ListVideoToAudioRequest = {}): Promise<KlingTask[]> {
    return this.listTasks(VIDEO_TO_AUDIO_PATH, req);
  }

  private async getTask(basePath: string, req: GetAvatarVideoRequest): Promise<KlingTask> {
    const id =
      'taskId' in req
        ? requireId('kling', 'taskId', req.taskId)
        : requireId('kling', 'externalTaskId', req.externalTaskId);
    return this.call('GET', `${basePath}/${encodeURIComponent(id)}`, undefined, klingTaskSchema);
  }

  private async listTasks(basePath: string, req: ListAvatarVideosRequest): Promise<KlingTask[]> {
    const pageNum = req.pageNum ?? 1;
    const pageSize = req.pageSize ?? 30;
    checkRange('pageNum', pageNum, 1, 1000);
    checkRange('pageSize', pageSize, 1, 500);
    return this.call('GET', `${basePath}?pageNum=${pageNum}&pageSize=${pageSize}`, undefined, klingTaskListSchema);
  }

  private async call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    json: object | undefined,
    dataSchema: S,
    headers: Record<string, string> = {},
  ): Promise<z.output<S>> {
    for (let attempt = 0; ; attempt++) {
      const bearer = await this.tokens.token();
      const req = {
        method,
        url: this.baseUrl + path,
        bearer,
        json,
        headers,
        dispatcher: this.dispatcher,
        timeoutMs: this.timeoutMs,
      };
      try {
        return await callEnvelopeApi(KLING_API, req, dataSchema);
      } catch (err) {
        // A JWT that is not yet valid or has expired (clock skew, a long pause): sign a new one, retry once.
        if (attempt === 0 && this.tokens.refreshable && isTokenRefreshError(err)) {
          this.tokens.invalidate();
          continue;
        }
        throw err;
      }
    }
  }
}

const KLING_API: EnvelopeApi<KlingEnvelope> = {
  provider: 'kling',
  envelope: klingEnvelopeSchema,
  envelopeName: 'a Kling envelope',
  read: (env, res) =>
    res.status === 200 && env.code === 0
      ? { data: env.data, requestId: env.requestId }
      : classifyKlingError({
          httpStatus: res.status,
          code: env.code,
          message: env.message,
          requestId: env.requestId,
          ...retryAfterOf(res.headers),
        }),
};
