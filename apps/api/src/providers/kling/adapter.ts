import { parseKlingCallback, type KlingClient, type KlingTask } from '@clipwire/providers/kling';
import type { TaskKind } from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';
import { Webhook } from 'standardwebhooks';
import { sandboxCreateOptions, storedRequest } from '../slice.js';
import {
  unlessNotFound,
  type CallbackReading,
  type MediaRef,
  type ProviderReport,
  type SubmitContext,
  type TaskAdapter,
} from '../types.js';
import { klingAvatarRequestSchema, klingVideoSoundRequestSchema } from './request.js';

/** Kling's report in Clipwire's terms (avatar and video-to-audio share one task shape). */
export function klingReport(task: KlingTask): ProviderReport {
  const failed = task.status === 'FAILED';
  return {
    providerTaskId: task.taskId,
    status: task.status,
    rawStatus: task.rawStatus,
    message: task.statusMessage,
    progress: task.status === 'SUCCEEDED' ? 1 : null,
    output: {
      videos: task.videos.map((v) => ({
        id: v.id,
        url: v.url,
        watermarkUrl: v.watermarkUrl,
        durationSeconds: v.durationSeconds,
      })),
      audios: task.audios.map((a) => ({ ...a })),
    },
    cost: task.finalUnitDeduction !== null ? { units: task.finalUnitDeduction } : null,
    failure: failed ? { providerCode: null, message: task.statusMessage || 'Kling reported the task failed' } : null,
    updatedAt: task.updatedAt,
  };
}

/** Kling takes media as a URL or as raw base64, so stored bytes go inline and Kling never has to reach us. */
async function klingMedia(ref: MediaRef, ctx: SubmitContext): Promise<string> {
  return 'url' in ref ? ref.url : ctx.mediaBase64(ref.mediaId);
}

/**
 * Kling callbacks name the task. With a signing secret configured (Kling's opt-in Standard
 * Webhooks signature over the whole body), an unsigned or badly signed one is refused and a valid
 * one is authenticated: its report is applied as it is, with no round trip to Kling.
 */
function callbackReader(webhookSecret: string | undefined) {
  const verifier = webhookSecret ? new Webhook(webhookSecret) : null;
  return (
    task: Pick<TaskRow, 'id' | 'providerTaskId'>,
    rawBody: string,
    headers: Record<string, string | string[] | undefined>,
  ): CallbackReading => {
    const callback = parseKlingCallback(JSON.parse(rawBody));
    const about =
      callback.externalTaskId === task.id || (task.providerTaskId !== null && callback.taskId === task.providerTaskId);
    if (!about) return { about: false };
    if (!verifier) return { about: true, report: null };
    try {
      verifier.verify(rawBody, {
        'webhook-id': String(headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(headers['webhook-signature'] ?? ''),
      });
    } catch {
      return { about: false };
    }
    return { about: true, report: klingReport(callback) };
  };
}

/** What Kling's two capabilities share: callbacks, lookups by our id (its external_task_id), one callback reader. */
function klingCapability(
  kind: TaskKind,
  mode: 'SANDBOX' | 'LIVE',
  webhookSecret: string | undefined,
  get: (id: { externalTaskId: string }) => Promise<KlingTask>,
  submit: TaskAdapter['submit'],
): TaskAdapter {
  return {
    provider: 'KLING',
    kind,
    mode,
    callbacks: true,
    findsUnconfirmedCreates: true,
    submit,
    lookup: (task) => unlessNotFound(async () => klingReport(await get({ externalTaskId: task.id }))),
    readCallback: callbackReader(webhookSecret),
  };
}

export function klingAvatarAdapter(client: KlingClient, mode: 'SANDBOX' | 'LIVE', webhookSecret?: string): TaskAdapter {
  const submit: TaskAdapter['submit'] = async (task, ctx) => {
    const r = storedRequest(klingAvatarRequestSchema, task);
    const audio = r.sound ? { soundFile: await klingMedia(r.sound, ctx) } : { audioId: r.audioId! };
    const created = await client.createAvatarVideo(
      {
        image: await klingMedia(r.image, ctx),
        ...audio,
        ...(r.prompt ? { prompt: r.prompt } : {}),
        mode: r.mode,
        watermark: r.watermark,
        externalTaskId: task.id,
        ...(ctx.callbackUrl ? { callbackUrl: ctx.callbackUrl } : {}),
      },
      sandboxCreateOptions(mode, r),
    );
    return klingReport(created);
  };
  const get = (id: { externalTaskId: string }) => client.getAvatarVideo(id);
  return klingCapability('AVATAR_VIDEO', mode, webhookSecret, get, submit);
}

export function klingVideoSoundAdapter(
  client: KlingClient,
  mode: 'SANDBOX' | 'LIVE',
  webhookSecret?: string,
): TaskAdapter {
  const submit: TaskAdapter['submit'] = async (task, ctx) => {
    const r = storedRequest(klingVideoSoundRequestSchema, task);
    // video_url must be a URL: stored uploads are served to Kling at a signed /media URL.
    const source = r.video
      ? { videoUrl: 'url' in r.video ? r.video.url : await ctx.mediaUrl(r.video.mediaId) }
      : { videoId: r.videoId! };
    const created = await client.createVideoToAudio(
      {
        ...source,
        ...(r.soundEffectPrompt ? { soundEffectPrompt: r.soundEffectPrompt } : {}),
        ...(r.bgmPrompt ? { bgmPrompt: r.bgmPrompt } : {}),
        asmrMode: r.asmrMode,
        externalTaskId: task.id,
        ...(ctx.callbackUrl ? { callbackUrl: ctx.callbackUrl } : {}),
      },
      sandboxCreateOptions(mode, r),
    );
    return klingReport(created);
  };
  return klingCapability('VIDEO_SOUND', mode, webhookSecret, (id) => client.getVideoToAudio(id), submit);
}
