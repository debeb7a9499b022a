import {
  isBlobLike,
  createAvatarVideoInputSchema,
  createVideoSoundInputSchema,
  type CreateAvatarVideoInput,
  type CreateVideoSoundInput,
  type MediaInput,
  type Provider,
  type SandboxOutcome,
  type TaskKind,
} from '@clipwire/schema';
import { sha256Hex } from '../crypto.js';
import { issuesFromZod, ValidationError, type FieldIssue } from '../errors.js';
import { checkMedia, type MediaRule } from '../media/limits.js';
import { PROBE_PREFIX_BYTES, probeMedia } from '../media/probe.js';
import { fetchAndProbe } from '../media/remote.js';
import { MediaFetchError, type SafeAgent } from '../media/safe-fetch.js';
import { PROVIDER_SLICES } from '../providers/registry.js';
import { elide, type DraftRef, type MediaReading, type ProviderDraft } from '../providers/slice.js';

/** Media the client sent as bytes: kept by Clipwire, referenced from the request as `{ upload: n }`. */
export interface PendingUpload {
  bytes: Buffer;
  mime: string;
  /** Hex SHA-256 of the bytes, taken once: stored with the media and part of the create's fingerprint. */
  sha256: string;
}

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
  /** What the create asks for, as a checksum: a repeated create (same externalTaskId) is recognised by it. */
  fingerprint: string;
}

export interface IntakeEnv {
  /** The SSRF-safe dispatcher URL media are probed through. */
  dispatcher: SafeAgent;
  fetchTimeoutMs: number;
  /** Checks a webhook URL; returns why it is refused, or null. */
  checkWebhookUrl(url: string): string | null;
  /** The mode a provider's capability runs in; undefined when it is not configured. */
  providerMode(provider: Provider, kind: TaskKind): 'SANDBOX' | 'LIVE' | undefined;
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

/**
 * The sandbox outcome asked for, refused when the provider is LIVE: a real provider cannot be told to
 * fail, and a partner's test must not reach one believing it is the sandbox.
 */
function sandboxOutcome(
  kind: TaskKind,
  input: { provider: Provider; sandbox?: { outcome: SandboxOutcome } },
  env: IntakeEnv,
): SandboxOutcome | null {
  if (!input.sandbox) return null;
  if (env.providerMode(input.provider, kind) === 'LIVE') {
    throw new ValidationError([
      {
        path: ['input', 'sandbox'],
        message: `applies only in sandbox mode, and ${input.provider} is LIVE (it has credentials)`,
      },
    ]);
  }
  return input.sandbox.outcome;
}

/** Reads a media input far enough to check it, and returns how the task will refer to it. */
class MediaReader implements MediaReading {
  readonly uploads: PendingUpload[] = [];
  readonly issues: FieldIssue[] = [];
  private accepted = 0;

  constructor(private readonly env: IntakeEnv) {}

  totalBytes(): number {
    return this.accepted;
  }

  refuse(path: string[], message: string): void {
    this.issues.push({ path, message });
  }

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
      this.uploads.push({ bytes, mime: probe.mime, sha256: sha256Hex(bytes) });
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
    if (found.length === 0) this.accepted += probe.sizeBytes;
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

/**
 * Checks an avatar-video input against its provider's documented limits, reading media facts from
 * the bytes, before anything is stored or sent. Throws a ValidationError listing every issue.
 */
export async function intakeAvatarVideo(raw: unknown, env: IntakeEnv): Promise<TaskDraft> {
  const input = parse<CreateAvatarVideoInput>(createAvatarVideoInputSchema, raw);
  const webhookUrl = checkWebhookUrl(input.webhookUrl, env);
  const shown = {
    provider: input.provider,
    image: elide(input.image),
    video: elide(input.video),
    audio: elide(input.audio),
    prompt: input.prompt,
  };
  return draft('AVATAR_VIDEO', input, webhookUrl, shown, env, (reader) =>
    offered(input.provider, PROVIDER_SLICES[input.provider].avatarVideo)(input, reader),
  );
}

/** Checks a video-sound input (Kling video-to-audio) the same way. */
export async function intakeVideoSound(raw: unknown, env: IntakeEnv): Promise<TaskDraft> {
  const input = parse<CreateVideoSoundInput>(createVideoSoundInputSchema, raw);
  const webhookUrl = checkWebhookUrl(input.webhookUrl, env);
  return draft('VIDEO_SOUND', input, webhookUrl, { provider: input.provider }, env, (reader) =>
    offered(input.provider, PROVIDER_SLICES[input.provider].videoSound)(input, reader),
  );
}

/** The provider's part of the draft, built once every media input is read and found within its limits. */
async function draft(
  kind: TaskKind,
  input: { provider: Provider; externalTaskId?: string; sandbox?: { outcome: SandboxOutcome } },
  webhookUrl: string | null,
  shown: Record<string, unknown>,
  env: IntakeEnv,
  build: (reader: MediaReader) => Promise<ProviderDraft>,
): Promise<TaskDraft> {
  const outcome = sandboxOutcome(kind, input, env);
  const reader = new MediaReader(env);
  const drafted = await build(reader);
  if (reader.issues.length > 0) throw new ValidationError(reader.issues);
  // Only a task that asks for an outcome carries one (so every other request is as it was).
  const built = outcome ? { ...drafted, request: { ...drafted.request, sandboxOutcome: outcome } } : drafted;
  const asked = outcome ? { sandbox: { outcome } } : {};
  return {
    kind,
    provider: input.provider,
    model: built.model,
    externalTaskId: input.externalTaskId ?? null,
    webhookUrl,
    input: { ...shown, ...built.shown, ...asked },
    request: built.request,
    uploads: reader.uploads,
    fingerprint: fingerprint(kind, input.provider, built, webhookUrl, reader.uploads),
  };
}

/**
 * SHA-256 of what a create asks for: kind, provider, model, webhook URL and the provider request, each
 * uploaded body as its own SHA-256 (the request is built field by field in a fixed order, so equal
 * inputs serialize equally).
 */
function fingerprint(
  kind: TaskKind,
  provider: Provider,
  built: ProviderDraft,
  webhookUrl: string | null,
  uploads: PendingUpload[],
): string {
  const bodies = uploads.map((u) => u.sha256);
  const request = JSON.stringify(built.request, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && 'upload' in value
      ? { sha256: bodies[(value as { upload: number }).upload] }
      : value,
  );
  return sha256Hex(JSON.stringify([kind, provider, built.model, webhookUrl, request]));
}

/** A provider's builder for a kind of task; a ValidationError naming `provider` when it offers none. */
function offered<F>(provider: Provider, build: F | undefined): F {
  if (!build) throw new ValidationError([{ path: ['input', 'provider'], message: `is not offered by ${provider}` }]);
  return build;
}
