import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { klingCallbackHeaders } from '../../kling/signature.js';
import { SANDBOX_SLOW_FACTOR, sandboxOutcomeOf } from '../../sandbox.js';
import {
  OneShot,
  SimApiError,
  SimCore,
  callbackControls,
  callbackSender,
  retryAfterHeader,
  type MountedSim,
} from '../common.js';
import { mediaSeconds } from '../durations.js';
import type { NamedInput } from '../inputs.js';
import { mediaRoute, sizedFile } from '../media.js';
import type { OutputLinks } from '../output-links.js';
import { sendJson, type Router, type SimRequest } from '../server.js';
import {
  httpUrl,
  invalid,
  klingApiStyle,
  optionalString,
  pageParam,
  parseBody,
  validateAvatar,
  validateVideoToAudio,
} from './requests.js';
import {
  AVATAR_DURATION,
  MEDIA_FILES,
  klingSeconds,
  PATHS,
  type KlingSimCapability,
  type KlingSimControls,
  type KlingSimCreateError,
  type KlingSimOptions,
  type KlingSimTiming,
  type ParentVideo,
  type SimStatus,
  type SimTask,
} from './types.js';
import { serializeTask } from './wire.js';

/*
 * Kling sandbox: avatar (/v1/videos/avatar/image2video) and video-to-audio (/v1/audio/video-to-audio)
 * create / query / list with Kling's envelope, business codes, auth rules, per-model concurrency
 * limit and callback bodies (one per status change), plus the sample media under /media/kling/.
 * It models ONE account: every accepted credential shares the task lists. external_task_id is
 * unique per capability (each capability has its own query path). URL inputs (video_url; image and
 * sound_file when they are http(s) URLs rather than raw base64) are downloaded, as Kling does, before
 * the task may end: a failed download ends it 'failed' with a task_status_msg naming the field.
 */

export function mountKling(
  router: Router,
  opts: KlingSimOptions,
  baseUrl: () => string,
  links: OutputLinks,
): MountedSim<KlingSimControls> {
  const timing: Record<KlingSimCapability, KlingSimTiming> = {
    avatar: opts.timing ?? { processingAfterMs: 1500, succeedAfterMs: 4000 },
    video_to_audio: opts.videoToAudioTiming ?? { processingAfterMs: 1500, succeedAfterMs: 5000 },
  };
  let concurrency = opts.concurrency ?? Infinity;
  let createLatencyMs = 0;
  const nextCreateError = new OneShot<KlingSimCreateError>();
  let seq = 0;

  const core = new SimCore(opts.fetchInputs);
  const { timers, inputs } = core;
  const signer = opts.webhookSecret !== undefined ? new Webhook(opts.webhookSecret) : null;
  const callbacks = callbackSender(core, opts);
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
  const style = klingApiStyle(opts);

  function ok(res: ServerResponse, data: unknown): void {
    sendJson(res, 200, { code: 0, message: 'SUCCEED', request_id: randomUUID(), data });
  }

  const serialize = (t: SimTask) => serializeTask(t, baseUrl(), links);

  /** Kling POSTs a snapshot of the task to callback_url on every status change. */
  function emitCallback(t: SimTask, body: Record<string, unknown> = serialize(t)): void {
    if (!t.callbackUrl || t.callbacksLost) return;
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
        url: `${baseUrl()}/media/kling/${sizedFile('avatar-sample.mp4', t.outputSeconds)}`,
        duration: t.outputSeconds === null ? AVATAR_DURATION : klingSeconds(t.outputSeconds),
      });
    }
    emitCallback(t);
  }

  async function create(capability: KlingSimCapability, req: SimRequest, res: ServerResponse): Promise<void> {
    const body = parseBody(req);
    const externalTaskId = optionalString(body, 'external_task_id');
    if (externalTaskId !== undefined) {
      createAttempts.set(externalTaskId, (createAttempts.get(externalTaskId) ?? 0) + 1);
      lastBodyByExternalId.set(externalTaskId, body);
    }

    const e = nextCreateError.take();
    if (e) throw new SimApiError(e.httpStatus, e.code, e.message, retryAfterHeader(e.retryAfter));

    let prompts: string[];
    let watermark = false;
    let parentVideo: ParentVideo | null = null;
    let urls: NamedInput[];
    let inlineSound: Buffer | null = null;
    if (capability === 'avatar') ({ prompts, watermark, urls, inlineSound } = validateAvatar(body));
    else ({ prompts, parentVideo, urls } = validateVideoToAudio(body, generatedVideos, baseUrl()));
    const callbackUrl = optionalString(body, 'callback_url');
    httpUrl('callback_url', callbackUrl);
    if (externalTaskId !== undefined && byExternalId[capability].has(externalTaskId)) {
      // What Kling really answers to a duplicate external_task_id is unconfirmed (docs/providers/kling.md);
      // this is our best guess. Clients must look the id up rather than rely on this answer.
      throw invalid('external_task_id already exists');
    }
    if (active(capability) >= concurrency) {
      throw new SimApiError(429, 1303, 'parallel task over resource pack limit');
    }
    // Sandbox outcomes on demand: FAIL is Kling's content-safety refusal (its task detail carries no
    // code, its create errors do); SLOW takes SANDBOX_SLOW_FACTOR times as long; LOST_CALLBACK sends none.
    const outcome = sandboxOutcomeOf(req.headers);
    if (outcome === 'invalid') throw invalid('x-sandbox-outcome must be one of FAIL, SLOW, LOST_CALLBACK');
    if (outcome === 'FAIL') {
      throw new SimApiError(400, 1301, 'Failure to pass the risk control system (sandbox outcome FAIL)');
    }

    const failing =
      opts.failPromptContains !== undefined &&
      opts.failPromptContains !== '' &&
      prompts.some((p) => p.includes(opts.failPromptContains as string));
    // The outputs last as long as the sound or the video they are made from (a video_id: its recorded
    // length; a URL: measured once downloaded). Measured before the task exists, so its timing starts after.
    const outputSeconds = inlineSound
      ? await mediaSeconds(inlineSound)
      : parentVideo && urls.length === 0
        ? Number(parentVideo.duration) || null
        : null;
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
      outputSeconds,
      callbacksLost: outcome === 'LOST_CALLBACK',
      createBody: body,
    };
    tasks.push(task);
    byTaskId[capability].set(task.taskId, task);
    if (task.externalTaskId !== null) byExternalId[capability].set(task.externalTaskId, task);

    const { processingAfterMs } = timing[capability];
    const succeedAfterMs = timing[capability].succeedAfterMs * (outcome === 'SLOW' ? SANDBOX_SLOW_FACTOR : 1);
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
        const measured = outcome.ok ? measureInputs(task, outcome.bodies) : Promise.resolve(null);
        timers.later(Math.max(1, task.createdAt + endAt - Date.now()), () => {
          void measured.then((refusal) => {
            if (inputs.isStopped) return;
            if (!outcome.ok) transition(task, 'failed', `failed to download ${outcome.field} (${outcome.reason})`);
            else if (refusal !== null) transition(task, 'failed', refusal);
            else if (task.failMessage === null) transition(task, 'succeed', '');
            else transition(task, 'failed', task.failMessage);
          });
        });
      });
    });

    if (createLatencyMs > 0) await timers.sleep(createLatencyMs);
    await core.delay();
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

  /**
   * Reads how long the downloaded sound or video lasts (the outputs follow it); a video_url outside
   * Kling's 3.0–20.0 s is why the task fails (null: it may go on).
   */
  async function measureInputs(task: SimTask, bodies: Map<string, Buffer>): Promise<string | null> {
    const input = bodies.get(task.capability === 'avatar' ? 'sound_file' : 'video_url');
    if (!input) return null;
    const seconds = await mediaSeconds(input);
    task.outputSeconds = seconds;
    if (task.capability === 'video_to_audio' && task.parentVideo && seconds !== null) {
      task.parentVideo = { ...task.parentVideo, duration: klingSeconds(seconds) };
      if (seconds < 3 || seconds > 20) return `video_url duration ${klingSeconds(seconds)} s is outside 3.0-20.0 s`;
    }
    return null;
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
    if (!task) throw new SimApiError(404, 1203, `task ${id} does not exist`);
    ok(res, serialize(task));
  }

  function list(capability: KlingSimCapability, req: SimRequest, res: ServerResponse): void {
    const pageNum = pageParam(req, 'pageNum', 1, 1000);
    const pageSize = pageParam(req, 'pageSize', 30, 500);
    const newestFirst = tasks
      .filter((t) => t.capability === capability)
      .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq);
    ok(res, newestFirst.slice((pageNum - 1) * pageSize, pageNum * pageSize).map(serialize));
  }

  for (const capability of ['avatar', 'video_to_audio'] as const) {
    const path = PATHS[capability];
    router
      .on(
        'POST',
        path,
        core.api(style, true, (req, res) => create(capability, req, res)),
      )
      .on(
        'GET',
        path,
        core.api(
          style,
          false,
          core.delayed((req, res) => list(capability, req, res)),
        ),
      )
      .on(
        'GET',
        `${path}/:id`,
        core.api(
          style,
          false,
          core.delayed((req, res) => get(capability, req, res)),
        ),
      );
  }
  router.on(
    'GET',
    '/media/kling/:file',
    mediaRoute(MEDIA_FILES, (res) => sendJson(res, 404, { error: 'not found' }), links),
  );

  const controls: KlingSimControls = {
    ...core.controls(() => {
      callbacks.setFaults({});
      createLatencyMs = 0;
      nextCreateError.set(null);
    }),
    ...callbackControls(callbacks),
    createCount: (capability) => tasks.filter((t) => capability === undefined || t.capability === capability).length,
    createsFor: (externalTaskId) => createAttempts.get(externalTaskId) ?? 0,
    activeTasks: (capability) => active(capability),
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
    setNextCreateError: (e) => nextCreateError.set(e),
  };

  return {
    controls,
    async stop() {
      await core.stop();
      await callbacks.stop();
    },
  };
}
