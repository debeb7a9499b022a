import {
  isBlobLike,
  createAvatarVideoInputSchema,
  createVideoSoundInputSchema,
  type CreateAvatarVideoInput,
  type CreateVideoSoundInput,
  type MediaInput,
  type Provider,
  type TaskKind,
} from '@clipwire/schema';
import { issuesFromZod, ValidationError, type FieldIssue } from '../errors.js';
import { checkMedia, RULES, type MediaRule } from '../media/limits.js';
import { PROBE_PREFIX_BYTES, probeMedia } from '../media/probe.js';
import { fetchAndProbe } from '../media/remote.js';
import { MediaFetchError, type SafeAgent } from '../media/safe-fetch.js';
import type { KlingAvatarRequest, KlingVideoSoundRequest } from '../providers/kling.js';
import type { DigitalHumanRequest } from '../providers/digital-human.js';
import type { KieAvatarRequest } from '../providers/kie.js';

/** Media the client sent as bytes: kept by Clipwire, referenced from the request as `{ upload: n }`. */
export interface PendingUpload {
  bytes: Buffer;
  mime: string;
}

/** A request whose media references may still point at uploads not yet stored. */
export type DraftRef = { url: string } | { upload: number };

/** Everything needed to commit a task, checked against the provider's documented limits. */
export interface TaskDraft {
  kind: TaskKind;
  provider: Provider;
  model: string;
  externalTaskId: string | null;
  /** Where to deliver this task's events, when the client named a URL. */
  webhookUrl: string | null;
  /** The input as shown back to clients: media bodies elided. */
  input: Record<string, unknown>;
  /** The provider request with `{ upload: n }` where stored media go. */
  request: Record<string, unknown>;
  uploads: PendingUpload[];
}

export interface IntakeEnv {
  /** The SSRF-safe dispatcher URL media are probed through. */
  dispatcher: SafeAgent;
  fetchTimeoutMs: number;
  /** Checks a webhook URL; returns why it is refused, or null. */
  checkWebhookUrl(url: string): string | null;
}

/**
 * The task's own webhook URL, refused early when it can never be delivered to; null when it names none
 * (the task then takes the tenant's default, read by the insert itself).
 */
function checkWebhookUrl(url: string | undefined, env: IntakeEnv): string | null {
  if (url === undefined) return null;
  const problem = env.checkWebhookUrl(url);
  if (problem) throw new ValidationError([{ path: ['input', 'webhookUrl'], message: `webhookUrl ${problem}` }]);
  return url;
}

/** Reads a media input far enough to check it, and returns how the task will refer to it. */
class MediaReader {
  readonly uploads: PendingUpload[] = [];
  readonly issues: FieldIssue[] = [];

  constructor(private readonly env: IntakeEnv) {}

  async read(media: MediaInput, path: string[], rule: MediaRule): Promise<DraftRef | null> {
    const name = path.at(-1)!;
    try {
      if (media.url !== undefined) {
        const { probe } = await fetchAndProbe(media.url, {
          dispatcher: this.env.dispatcher,
          maxBytes: rule.maxBytes,
          timeoutMs: this.env.fetchTimeoutMs,
        });
        return this.check(rule, probe, path) ? { url: media.url } : null;
      }
      let bytes: Buffer;
      if (media.base64 !== undefined) {
        bytes = Buffer.from(media.base64, 'base64');
      } else {
        // The multipart parser has already buffered the upload (within the request body limit).
        bytes = Buffer.from(await media.file!.arrayBuffer());
      }
      if (bytes.length > rule.maxBytes) {
        // Over the size limit: the header tells the type, and the size is all the check needs.
        this.check(rule, await probeMedia(bytes.subarray(0, PROBE_PREFIX_BYTES), { totalSize: bytes.length }), path);
        return null;
      }
      if (bytes.length === 0) {
        this.issues.push({ path, message: `${name} is empty` });
        return null;
      }
      const probe = await probeMedia(bytes);
      if (!this.check(rule, probe, path)) return null;
      this.uploads.push({ bytes, mime: probe.mime });
      return { upload: this.uploads.length - 1 };
    } catch (error) {
      if (error instanceof MediaFetchError) {
        this.issues.push({ path: [...path, 'url'], message: `${name} could not be fetched: ${error.message}` });
        return null;
      }
      throw error;
    }
  }

  private check(rule: MediaRule, probe: Parameters<typeof checkMedia>[1], path: string[]): boolean {
    const found = checkMedia(rule, probe, path);
    this.issues.push(...found);
    return found.length === 0;
  }
}

/** GraphQL gives explicit nulls for omitted optional fields; the zod schemas take them as absent. */
export function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value && typeof value === 'object' && !(value instanceof Date) && !isBlobLike(value)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, stripNulls(v)]),
    );
  }
  return value;
}

function elide(media: MediaInput | undefined): Record<string, unknown> | undefined {
  if (!media) return undefined;
  if (media.url !== undefined) return { url: media.url };
  if (media.base64 !== undefined) return { base64: { elided: true, chars: media.base64.length } };
  const file = media.file as Blob & { name?: string };
  return { file: { name: file.name ?? null, size: file.size, type: file.type || null } };
}

function parse<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
  },
  raw: unknown,
): T {
  const parsed = schema.safeParse(stripNulls(raw));
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error.issues, ['input']));
  return parsed.data;
}

function done(reader: MediaReader): void {
  if (reader.issues.length > 0) throw new ValidationError(reader.issues);
}

/**
 * Checks an avatar-video input against its provider's documented limits, reading media facts from
 * the bytes, before anything is stored or sent. Throws a ValidationError listing every issue.
 */
export async function intakeAvatarVideo(raw: unknown, env: IntakeEnv): Promise<TaskDraft> {
  const input = parse<CreateAvatarVideoInput>(createAvatarVideoInputSchema, raw);
  const reader = new MediaReader(env);
  const base = {
    kind: 'AVATAR_VIDEO' as const,
    provider: input.provider,
    externalTaskId: input.externalTaskId ?? null,
    webhookUrl: checkWebhookUrl(input.webhookUrl, env),
  };
  const shown = {
    provider: input.provider,
    image: elide(input.image),
    video: elide(input.video),
    audio: elide(input.audio),
    prompt: input.prompt,
  };

  switch (input.provider) {
    case 'KLING': {
      const kling = { audioId: undefined, mode: 'std' as const, watermark: false, ...input.kling };
      const image = await reader.read(input.image!, ['input', 'image'], RULES.klingAvatarImage);
      const sound = input.audio ? await reader.read(input.audio, ['input', 'audio'], RULES.klingAvatarAudio) : null;
      done(reader);
      const request: Draft<KlingAvatarRequest> = {
        image: image!,
        sound,
        audioId: kling.audioId ?? null,
        prompt: input.prompt ?? null,
        mode: kling.mode,
        watermark: kling.watermark,
      };
      return {
        ...base,
        model: `kling-avatar-${kling.mode}`,
        input: { ...shown, kling },
        request: { ...request },
        uploads: reader.uploads,
      };
    }
    case 'KIE': {
      const kie = { resolution: '480p' as const, ...input.kie };
      const image = await reader.read(input.image!, ['input', 'image'], RULES.kieImage);
      const audio = await reader.read(input.audio!, ['input', 'audio'], RULES.kieAudio);
      done(reader);
      const request: Draft<KieAvatarRequest> = {
        image: image!,
        audio: audio!,
        prompt: input.prompt!,
        resolution: kie.resolution,
        seed: kie.seed ?? null,
      };
      return {
        ...base,
        model: `infinitalk/from-audio-${kie.resolution}`,
        input: { ...shown, kie },
        request: { ...request },
        uploads: reader.uploads,
      };
    }
    case 'DIGITAL_HUMAN': {
      const dh = input.digitalHuman ?? { noWatermark: false };
      // The reseller takes an image or a video as the avatar (≤ 100 MB of media in all); it
      // documents no format rules, so type and size are what is checked.
      const avatar = input.image
        ? await reader.read(input.image, ['input', 'image'], DIGITAL_HUMAN_AVATAR_IMAGE)
        : await reader.read(input.video!, ['input', 'video'], DIGITAL_HUMAN_AVATAR_VIDEO);
      let voice: Draft<DigitalHumanRequest>['voice'];
      if (input.audio) {
        const audio = await reader.read(input.audio, ['input', 'audio'], DIGITAL_HUMAN_DRIVING_AUDIO);
        voice = { type: 'audio', audio: audio! };
      } else if (dh.cloneVoice) {
        const audio = await reader.read(
          dh.cloneVoice.audio,
          ['input', 'digitalHuman', 'cloneVoice', 'audio'],
          RULES.digitalHumanVoiceAudio,
        );
        voice = { type: 'clone', audio: audio!, language: dh.cloneVoice.language, text: dh.cloneVoice.text };
      } else {
        voice = { type: 'stock', ...dh.stockVoice! };
      }
      done(reader);
      const request: Draft<DigitalHumanRequest> = { avatar: avatar!, voice, noWatermark: dh.noWatermark };
      return {
        ...base,
        model: `digital-human-${voice.type}`,
        input: { ...shown, digitalHuman: { noWatermark: dh.noWatermark, voice: describeVoice(dh) } },
        request: { ...request },
        uploads: reader.uploads,
      };
    }
  }
}

/** Checks a video-sound input (Kling video-to-audio) the same way. */
export async function intakeVideoSound(raw: unknown, env: IntakeEnv): Promise<TaskDraft> {
  const input = parse<CreateVideoSoundInput>(createVideoSoundInputSchema, raw);
  const reader = new MediaReader(env);
  const webhookUrl = checkWebhookUrl(input.webhookUrl, env);
  const video = input.video ? await reader.read(input.video, ['input', 'video'], RULES.klingVideoToAudioVideo) : null;
  done(reader);
  const request: Draft<KlingVideoSoundRequest> = {
    video,
    videoId: input.videoId ?? null,
    soundEffectPrompt: input.soundEffectPrompt ?? null,
    bgmPrompt: input.bgmPrompt ?? null,
    asmrMode: input.asmrMode,
  };
  return {
    kind: 'VIDEO_SOUND',
    provider: 'KLING',
    model: 'kling-video-to-audio',
    externalTaskId: input.externalTaskId ?? null,
    webhookUrl,
    input: {
      provider: 'KLING',
      video: elide(input.video),
      videoId: input.videoId,
      soundEffectPrompt: input.soundEffectPrompt,
      bgmPrompt: input.bgmPrompt,
      asmrMode: input.asmrMode,
    },
    request: { ...request },
    uploads: reader.uploads,
  };
}

/** A provider request type with its stored media references replaced by draft references. */
type Draft<T> = {
  [K in keyof T]: T[K] extends { mediaId: string } | { url: string }
    ? DraftRef
    : T[K] extends ({ mediaId: string } | { url: string }) | null
      ? DraftRef | null
      : T[K] extends object
        ? Draft<T[K]>
        : T[K];
};

function describeVoice(dh: NonNullable<CreateAvatarVideoInput['digitalHuman']>): Record<string, unknown> {
  if (dh.cloneVoice)
    return { clone: { audio: elide(dh.cloneVoice.audio), language: dh.cloneVoice.language, text: dh.cloneVoice.text } };
  if (dh.stockVoice) return { stock: dh.stockVoice };
  return { audio: true };
}

const ANY_IMAGE = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' } as const;
const DIGITAL_HUMAN_AVATAR_IMAGE: MediaRule = { kind: 'image', types: ANY_IMAGE, maxBytes: 100 * 1024 * 1024 };
const DIGITAL_HUMAN_AVATAR_VIDEO: MediaRule = {
  kind: 'video',
  types: { 'video/mp4': 'mp4', 'video/quicktime': 'mov' },
  maxBytes: 100 * 1024 * 1024,
};
const DIGITAL_HUMAN_DRIVING_AUDIO: MediaRule = { ...RULES.digitalHumanVoiceAudio, minSeconds: undefined };
