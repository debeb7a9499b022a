import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { SANDBOX_SLOW_FACTOR, sandboxOutcomeOf } from '../../sandbox.js';
import { OneShot, SimApiError, SimCore, retryAfterHeader, type MountedSim } from '../common.js';
import { mediaSeconds, speechSeconds } from '../durations.js';
import { mediaRoute, sizedFile } from '../media.js';
import type { OutputLinks } from '../output-links.js';
import { sendJson, type Router, type SimRequest } from '../server.js';
import { dhApiStyle, parseBody, validate } from './requests.js';
import {
  MEDIA_FILES,
  type DhStatus,
  type DigitalHumanSimControls,
  type DigitalHumanSimError,
  type DigitalHumanSimOptions,
  type DigitalHumanSimTiming,
  type SimTask,
} from './types.js';

/*
 * "数字人" reseller sandbox: POST /avatar/generation (exactly one of three body forms) and
 * GET /avatar/task/{id}, answering `{code:"success", message, data}`. No callbacks (none are
 * documented). Error bodies are a guess at its new-api style gateway: `{code:"<snake_case>", message, data:null}`
 * with a matching HTTP status.
 */

const seconds = (ms: number) => Math.floor(ms / 1000);

export function mountDigitalHuman(
  router: Router,
  opts: DigitalHumanSimOptions,
  baseUrl: () => string,
  links: OutputLinks,
): MountedSim<DigitalHumanSimControls> {
  let timing: DigitalHumanSimTiming = opts.timing ?? {
    submittedAfterMs: 200,
    queuedAfterMs: 600,
    inProgressAfterMs: 1200,
    finishAfterMs: 5000,
  };
  const nextCreateError = new OneShot<DigitalHumanSimError>();
  const core = new SimCore(opts.fetchInputs);
  const { inputs } = core;
  const tasks = new Map<string, SimTask>();

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
    // Issued when the task finished: they expire that long after.
    const finishedAt = t.createdAt + finishAfterMs;
    const clean = links.link(baseUrl(), `/media/dh/${sizedFile('avatar-sample.mp4', t.outputSeconds)}`, finishedAt);
    const wm = links.link(
      baseUrl(),
      `/media/dh/${sizedFile('avatar-sample-watermarked.mp4', t.outputSeconds)}`,
      finishedAt,
    );
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
    const e = nextCreateError.take();
    if (e)
      throw new SimApiError(e.httpStatus, e.code, e.message ?? `${e.code} (injected)`, retryAfterHeader(e.retryAfter));
    const body = parseBody(req);
    const { form, texts, noWatermark, urls } = validate(body);
    // Sandbox outcomes on demand: FAIL ends FAILURE with a fail_reason (the reseller has no failure
    // codes); SLOW takes SANDBOX_SLOW_FACTOR times as long; LOST_CALLBACK changes nothing (no callbacks).
    const outcome = sandboxOutcomeOf(req.headers);
    if (outcome === 'invalid')
      throw new SimApiError(400, 'invalid_request', 'x-sandbox-outcome must be one of FAIL, SLOW, LOST_CALLBACK');
    const fail = opts.failWhenContains;
    const task: SimTask = {
      taskId: randomUUID().replace(/-/g, ''),
      form,
      noWatermark,
      failing: outcome === 'FAIL' || (fail !== undefined && fail !== '' && texts.some((t) => t.includes(fail))),
      createdAt: Date.now(),
      timing:
        outcome === 'SLOW' ? { ...timing, finishAfterMs: timing.finishAfterMs * SANDBOX_SLOW_FACTOR } : { ...timing },
      // A cloned or stock voice says the text: the video lasts as long as saying it takes.
      outputSeconds: form === 'audio' ? null : speechSeconds(texts[1] ?? ''),
    };
    tasks.set(task.taskId, task);
    void inputs.fetchAll(urls).then(async (outcome) => {
      if (inputs.isStopped) return;
      // Reading the audio's length is part of taking the inputs in: the task starts once it is known.
      const audio = outcome.ok ? outcome.bodies.get('audio_url') : undefined;
      if (audio) task.outputSeconds = await mediaSeconds(audio);
      if (inputs.isStopped) return;
      task.inputs = {
        doneAt: Date.now(),
        failReason: outcome.ok ? null : `failed to download ${outcome.field} (${outcome.reason})`,
      };
    });
    await core.delay();
    sendJson(res, 200, { code: 'success', message: '', data: task.taskId });
  }

  async function get(req: SimRequest, res: ServerResponse): Promise<void> {
    const id = req.params['id'] ?? '';
    const task = tasks.get(id);
    if (!task) throw new SimApiError(404, 'task_not_found', `task ${id} not found`);
    await core.delay();
    sendJson(res, 200, { code: 'success', message: '', data: serialize(task) });
  }

  const style = dhApiStyle(opts);
  const notFound = (res: ServerResponse) => sendJson(res, 404, { code: 'not_found', message: 'not found', data: null });
  router
    .on('POST', '/avatar/generation', core.api(style, true, create))
    .on('GET', '/avatar/task/:id', core.api(style, false, get))
    .on('GET', '/media/dh/:file', mediaRoute(MEDIA_FILES, notFound, links));

  const controls: DigitalHumanSimControls = {
    ...core.controls(() => nextCreateError.set(null)),
    createCount: () => tasks.size,
    setTiming: (t) => {
      timing = { ...t };
    },
    setNextCreateError: (e) => nextCreateError.set(e),
  };

  return { controls, stop: () => core.stop() };
}
