import type { DigitalHumanClient, DigitalHumanTask } from '@clipwire/providers/digital-human';
import { sandboxCreateOptions, storedRequest } from '../slice.js';
import { acceptedReport, unlessNotFound, type MediaRef, type ProviderReport, type TaskAdapter } from '../types.js';
import { digitalHumanRequestSchema } from './request.js';

export function digitalHumanReport(task: DigitalHumanTask): ProviderReport {
  const video = task.videoUrl;
  return {
    providerTaskId: task.taskId,
    status: task.status,
    rawStatus: task.rawStatus,
    message: task.failReason,
    progress: task.progress,
    output: {
      videos: video
        ? [{ id: task.taskId, url: video, watermarkUrl: task.watermarkedVideoUrl, durationSeconds: null }]
        : [],
      audios: [],
    },
    cost: null,
    failure:
      task.status === 'FAILED'
        ? { providerCode: null, message: task.failReason || 'the digital-human provider reported a failure' }
        : null,
    updatedAt: task.finishedAt ?? task.startedAt ?? task.submittedAt,
  };
}

/**
 * The digital-human reseller: URL inputs only (stored media go as signed /media URLs), no
 * callbacks (the poller follows every task), no client-chosen id.
 */
export function digitalHumanAdapter(client: DigitalHumanClient, mode: 'SANDBOX' | 'LIVE'): TaskAdapter {
  return {
    provider: 'DIGITAL_HUMAN',
    kind: 'AVATAR_VIDEO',
    mode,
    callbacks: false,
    findsUnconfirmedCreates: false,
    async submit(task, ctx) {
      const r = storedRequest(digitalHumanRequestSchema, task);
      const url = (ref: MediaRef) => ('url' in ref ? Promise.resolve(ref.url) : ctx.mediaUrl(ref.mediaId));
      const avatarUrl = await url(r.avatar);
      const v = r.voice;
      const taskId = await client.createGeneration(
        v.type === 'audio'
          ? { audioUrl: await url(v.audio), avatarUrl, noWatermark: r.noWatermark }
          : v.type === 'clone'
            ? { createVoice: { audioUrl: await url(v.audio), language: v.language, text: v.text }, avatarUrl }
            : {
                useVoice: { voiceEngineId: v.voiceEngineId, audioId: v.audioId, language: v.language, text: v.text },
                avatarUrl,
              },
        sandboxCreateOptions(mode, r),
      );
      return acceptedReport(taskId, 'SUBMITTED');
    },
    async lookup(task) {
      const id = task.providerTaskId;
      return id ? unlessNotFound(async () => digitalHumanReport(await client.getTask(id))) : null;
    },
  };
}
