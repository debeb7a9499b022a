import type { CreateAvatarVideoInput, MediaInput, TaskStatus } from '@clipwire/schema';
import type { CreateAvatarVideoRequest, KlingTask } from '@clipwire/providers/kling';
import type { TaskPatch } from '../tasks/repository.js';

export const KLING_AVATAR_MODEL = 'kling-avatar';

/** What is stored to submit later: the create request without the per-submission fields. */
export type StoredKlingAvatarRequest = CreateAvatarVideoRequest extends infer R
  ? R extends unknown
    ? Omit<R, 'callbackUrl' | 'externalTaskId'>
    : never
  : never;

/** The Kling avatar create request for an input, without the per-submission fields. */
export function klingAvatarRequest(input: CreateAvatarVideoInput): StoredKlingAvatarRequest {
  const media = (m: MediaInput) => m.url ?? m.base64!.replace(/\s+/g, '');
  const audio = input.audio ? { soundFile: media(input.audio) } : { audioId: input.audioId! };
  return {
    image: media(input.image),
    ...audio,
    ...(input.prompt ? { prompt: input.prompt } : {}),
    mode: input.kling.mode,
    watermark: input.kling.watermark,
  };
}

/** The input as shown back to clients: media bodies are elided, their size kept. */
export function normalizedAvatarInput(input: CreateAvatarVideoInput): Record<string, unknown> {
  const media = (m: MediaInput) =>
    m.url !== undefined ? { url: m.url } : { base64: { elided: true, length: m.base64?.length ?? 0 } };
  return {
    provider: input.provider,
    image: media(input.image),
    ...(input.audio ? { audio: media(input.audio) } : {}),
    ...(input.audioId ? { audioId: input.audioId } : {}),
    ...(input.prompt ? { prompt: input.prompt } : {}),
    kling: input.kling,
  };
}

export interface ProviderTransition {
  to: TaskStatus;
  message: string | null;
  patch: TaskPatch;
}

/** Maps what Kling reports (from its API) to our status change; null for a status we do not know. */
export function klingTransition(report: KlingTask): ProviderTransition | null {
  const patch: TaskPatch = { providerTaskId: report.taskId, providerUpdatedAt: report.updatedAt };
  switch (report.status) {
    case 'QUEUED':
      return { to: 'SUBMITTED', message: report.statusMessage || 'accepted by Kling', patch: { ...patch, submittedAt: new Date() } };
    case 'RUNNING':
      return { to: 'PROCESSING', message: report.statusMessage || 'Kling is generating the video', patch };
    case 'SUCCEEDED':
      return {
        to: 'SUCCEEDED',
        message: report.statusMessage || 'video ready',
        patch: {
          ...patch,
          progress: 1,
          output: {
            videos: report.videos.map((v) => ({
              id: v.id,
              url: v.url,
              watermarkUrl: v.watermarkUrl,
              durationSeconds: v.durationSeconds,
            })),
            audios: [],
          },
          cost: { units: report.finalUnitDeduction },
        },
      };
    case 'FAILED':
      return {
        to: 'FAILED',
        message: report.statusMessage || 'Kling reported the task failed',
        patch: {
          ...patch,
          error: { code: 'PROVIDER_FAILED', message: report.statusMessage || 'Kling reported the task failed', providerCode: null },
          cost: { units: report.finalUnitDeduction },
        },
      };
    default:
      return null;
  }
}
