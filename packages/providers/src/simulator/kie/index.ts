import type { ServerResponse } from 'node:http';
import { signKieCallback } from '../../kie/signature.js';
import { SANDBOX_SLOW_FACTOR, sandboxOutcomeOf } from '../../sandbox.js';
import { OneShot, SimCore, callbackControls, callbackSender, type MountedSim } from '../common.js';
import { mediaSeconds } from '../durations.js';
import { mediaRoute, sizedFile } from '../media.js';
import type { OutputLinks } from '../output-links.js';
import { sendJson, type Router, type SimRequest } from '../server.js';
import { KieApiError, injectedCreateError, invalid, kieApiStyle, parseJson, validateCreate } from './requests.js';
import {
  CREATE,
  MODEL,
  RECORD,
  type KieSimControls,
  type KieSimError,
  type KieSimOptions,
  type KieSimTiming,
  type KieState,
  type SimTask,
} from './types.js';
import { mountKieUploads } from './uploads.js';

/*
 * KIE.ai sandbox: the market API for model infinitalk/from-audio (jobs/createTask, jobs/recordInfo)
 * with KIE's body codes, the 20-creates-per-10-s limit, one terminal callback per task (optionally
 * signed), and the file-upload API (stream / base64 / URL) whose downloadUrl this server serves.
 * Mounted on the same server as the other providers: point both baseUrl and uploadBaseUrl at it.
 */

export function mountKie(
  router: Router,
  opts: KieSimOptions,
  baseUrl: () => string,
  links: OutputLinks,
): MountedSim<KieSimControls> {
  const limit = opts.rateLimit ?? { creates: 20, windowMs: 10_000 };
  let timing: KieSimTiming = opts.timing ?? { queuingAfterMs: 500, generatingAfterMs: 1500, completeAfterMs: 5000 };
  const nextCreateError = new OneShot<KieSimError>();
  let seq = 0;
  let remainedCredits = 10_000;

  const core = new SimCore(opts.fetchInputs);
  const { timers, inputs } = core;
  const callbacks = callbackSender(core, opts);
  const tasks = new Map<string, SimTask>();
  const admitted: number[] = [];

  function serialize(t: SimTask): Record<string, unknown> {
    const done = t.state === 'success' || t.state === 'fail';
    return {
      taskId: t.taskId,
      model: MODEL,
      state: t.state,
      param: t.param,
      resultJson:
        t.state === 'success'
          ? JSON.stringify({
              resultUrls: [
                links.link(
                  baseUrl(),
                  `/media/kie/${sizedFile('avatar-sample.mp4', t.outputSeconds)}`,
                  t.completeTime ?? t.updateTime,
                ),
              ],
            })
          : '',
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
    if (!t.callBackUrl || t.callbackLost) return;
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
    const injected = nextCreateError.take();
    if (injected) throw injectedCreateError(injected);
    checkRateLimit();
    const body = parseJson(req);
    const { imageUrl, audioUrl, prompt, resolution, callBackUrl } = validateCreate(body);
    // Sandbox outcomes on demand: FAIL ends in KIE's "generation failed" (failCode 501); SLOW takes
    // SANDBOX_SLOW_FACTOR times as long; LOST_CALLBACK sends no callback.
    const outcome = sandboxOutcomeOf(req.headers);
    if (outcome === 'invalid') throw invalid('x-sandbox-outcome must be one of FAIL, SLOW, LOST_CALLBACK');

    seq += 1;
    const now = Date.now();
    const task: SimTask = {
      taskId: `task_infinitalk_${now}${String(seq).padStart(4, '0')}`,
      state: 'waiting',
      param: JSON.stringify(body),
      callBackUrl,
      failing:
        opts.failPromptContains !== undefined &&
        opts.failPromptContains !== '' &&
        prompt.includes(opts.failPromptContains),
      failCode: '501',
      failMsg: outcome === 'FAIL' ? 'Generation failed (sandbox outcome FAIL)' : 'Generation failed (simulated)',
      credits: resolution === '720p' ? 24 : 12,
      createTime: now,
      updateTime: now,
      completeTime: null,
      outputSeconds: null,
      callbackLost: outcome === 'LOST_CALLBACK',
    };
    if (outcome === 'FAIL') task.failing = true;
    tasks.set(task.taskId, task);
    const { queuingAfterMs, generatingAfterMs } = timing;
    const completeAfterMs = timing.completeAfterMs * (outcome === 'SLOW' ? SANDBOX_SLOW_FACTOR : 1);
    // The inputs download while the task waits/queues; it turns 'generating' only once both are in
    // (at generatingAfterMs, or when the downloads finish if later), and generation then takes its
    // configured time: a late download shifts completion by as much as it delayed 'generating'.
    const downloaded = inputs.fetchAll([
      { field: 'input.image_url', url: imageUrl },
      // The audio is kept: the video is as long as it.
      { field: 'input.audio_url', url: audioUrl, keep: true },
    ]);
    timers.later(queuingAfterMs, () => transition(task, 'queuing'));
    timers.later(Math.max(generatingAfterMs, queuingAfterMs + 1), () => {
      void downloaded.then(async (outcome) => {
        if (inputs.isStopped) return;
        if (!outcome.ok) {
          // What KIE reports for an input it cannot download is unconfirmed: a guess, 422 as for
          // its other input validation errors (501 "generation failed" is the alternative).
          task.failCode = '422';
          task.failMsg = `failed to download ${outcome.field} (${outcome.reason})`;
          transition(task, 'fail');
          return;
        }
        const audio = outcome.bodies.get('input.audio_url');
        if (audio) task.outputSeconds = await mediaSeconds(audio);
        if (inputs.isStopped) return;
        const generatingAt = Math.max(generatingAfterMs, queuingAfterMs + 1);
        const shift = Math.max(0, Date.now() - task.createTime - generatingAt);
        transition(task, 'generating');
        const completeAt = Math.max(completeAfterMs, generatingAfterMs + 2, queuingAfterMs + 2) + shift;
        timers.later(Math.max(1, task.createTime + completeAt - Date.now()), () =>
          transition(task, task.failing ? 'fail' : 'success'),
        );
      });
    });
    await core.delay();
    sendJson(res, 200, { code: 200, msg: 'success', data: { taskId: task.taskId } });
  }

  async function recordInfo(req: SimRequest, res: ServerResponse): Promise<void> {
    const taskId = req.url.searchParams.get('taskId') ?? '';
    if (taskId === '') throw invalid('taskId is required');
    const task = tasks.get(taskId);
    // KIE's exact answer for an unknown taskId is unconfirmed; 404 is the documented "not found".
    if (!task) throw new KieApiError(404, `task ${taskId} not found`);
    await core.delay();
    // recordInfo says `message`; createTask says `msg`.
    sendJson(res, 200, { code: 200, message: 'success', data: serialize(task) });
  }

  const style = kieApiStyle(opts);
  router
    .on('POST', CREATE, core.api(style, true, create))
    .on('GET', RECORD, core.api(style, false, recordInfo))
    .on(
      'GET',
      '/media/kie/:file',
      mediaRoute(
        { 'avatar-sample.mp4': 'video/mp4' },
        (res) => sendJson(res, 404, { code: 404, msg: 'not found' }),
        links,
      ),
    );
  const uploads = mountKieUploads(router, core, opts, baseUrl);

  const controls: KieSimControls = {
    ...core.controls(() => {
      callbacks.setFaults({});
      nextCreateError.set(null);
    }),
    ...callbackControls(callbacks),
    createCount: () => tasks.size,
    setTiming: (t) => {
      timing = { ...t };
    },
    setNextCreateError: (e) => nextCreateError.set(e),
    uploadCount: () => uploads.uploadCount(),
  };

  return {
    controls,
    async stop() {
      await core.stop();
      await callbacks.stop();
    },
  };
}
