import { parseKieCallback, verifyKieSignature, type KieClient, type KieTask } from '@clipwire/providers/kie';
import { sandboxCreateOptions, storedRequest } from '../slice.js';
import { acceptedReport, unlessNotFound, type MediaRef, type ProviderReport, type TaskAdapter } from '../types.js';
import { kieAvatarRequestSchema } from './request.js';

export function kieReport(task: KieTask): ProviderReport {
  return {
    providerTaskId: task.taskId,
    status: task.status,
    rawStatus: task.rawState,
    message: task.failMsg,
    progress: task.status === 'SUCCEEDED' ? 1 : null,
    output: {
      videos: task.resultUrls.map((url, i) => ({
        id: `${task.taskId}-${i}`,
        url,
        watermarkUrl: null,
        durationSeconds: null,
      })),
      audios: [],
    },
    // recordInfo documents no credits (only the unbelieved callback has them): kept if it carries them.
    cost: task.consumeCredits !== null ? { units: String(task.consumeCredits) } : null,
    failure:
      task.status === 'FAILED'
        ? { providerCode: task.failCode, message: task.failMsg || 'KIE reported the generation failed' }
        : null,
    updatedAt: task.updatedAt,
  };
}

/**
 * KIE.ai infinitalk/from-audio. Inputs must be URLs: stored media are handed over as signed
 * /media URLs (or, in live mode, through KIE's upload API when no public base URL is configured).
 * KIE has no client-chosen id, so a create whose outcome is unknown cannot be found again.
 */
export function kieAvatarAdapter(
  client: KieClient,
  mode: 'SANDBOX' | 'LIVE',
  opts: { hmacKey?: string; uploadInputs?: boolean },
): TaskAdapter {
  return {
    provider: 'KIE',
    kind: 'AVATAR_VIDEO',
    mode,
    callbacks: true,
    findsUnconfirmedCreates: false,
    async submit(task, ctx) {
      const r = storedRequest(kieAvatarRequestSchema, task);
      const url = async (ref: MediaRef, name: string) => {
        if ('url' in ref) return ref.url;
        if (!opts.uploadInputs) return ctx.mediaUrl(ref.mediaId);
        const uploaded = await client.uploadBase64(await ctx.mediaBase64(ref.mediaId), `clipwire/${task.id}`, name);
        return uploaded.downloadUrl;
      };
      const taskId = await client.createTask(
        {
          imageUrl: await url(r.image, 'image'),
          audioUrl: await url(r.audio, 'audio'),
          prompt: r.prompt,
          resolution: r.resolution,
          ...(r.seed !== null ? { seed: r.seed } : {}),
          ...(ctx.callbackUrl ? { callBackUrl: ctx.callbackUrl } : {}),
        },
        sandboxCreateOptions(mode, r),
      );
      return acceptedReport(taskId, 'waiting');
    },
    async lookup(task) {
      const id = task.providerTaskId;
      return id ? unlessNotFound(async () => kieReport(await client.recordInfo(id))) : null;
    },
    readCallback(task, rawBody, headers) {
      const callback = parseKieCallback(JSON.parse(rawBody));
      if (task.providerTaskId === null || callback.taskId !== task.providerTaskId) return { about: false };
      // KIE's optional signature covers only taskId and timestamp, never the body: when a key is
      // configured it proves the sender, and the result is still read back from recordInfo.
      if (opts.hmacKey) {
        const signed = verifyKieSignature({
          taskId: callback.taskId,
          timestampHeader: headers['x-webhook-timestamp'],
          signatureHeader: headers['x-webhook-signature'],
          hmacKey: opts.hmacKey,
        });
        if (!signed) return { about: false };
      }
      return { about: true, report: null };
    },
  };
}
