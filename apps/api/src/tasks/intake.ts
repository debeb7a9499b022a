import {
  avatarInputIssues,
  avatarVideoFieldsSchema,
  isBlobLike,
  routeOptionIssues,
  createAvatarVideoInputSchema,
  createVideoSoundInputSchema,
  type CreateAvatarVideoInput,
  type CreateVideoSoundInput,
  type Provider,
  type RouteAttempt,
  type SandboxOutcome,
  type TaskKind,
} from '@clipwire/schema';
import { sha256Hex } from '../crypto.js';
import { issuesFromZod, ValidationError, type FieldIssue } from '../errors.js';
import type { SafeAgent } from '../media/safe-fetch.js';
import { PROVIDER_SLICES } from '../providers/registry.js';
import { MediaReader, type PendingUpload } from './media-reader.js';

export type { PendingUpload } from './media-reader.js';
import { elide, type ProviderDraft } from '../providers/slice.js';

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
  /** The rest of the route after `provider`, each with its own request (`{ upload: n }` as above). */
  route: DraftStep[];
  /** Providers of the route whose limits the input breaks: dropped before anything is stored. */
  skipped: RouteAttempt[];
  /** What the create asks for, as a checksum: a repeated create (same externalTaskId) is recognised by it. */
  fingerprint: string;
}

/** A provider further along the route, with the request built for it. */
export interface DraftStep {
  provider: Provider;
  model: string;
  request: Record<string, unknown>;
}

export interface IntakeEnv {
  /** The SSRF-safe dispatcher URL media are probed through. */
  dispatcher: SafeAgent;
  fetchTimeoutMs: number;
  /** Checks a webhook URL; returns why it is refused, or null. */
  checkWebhookUrl(url: string): string | null;
  /** The mode a provider's capability runs in; undefined when it is not configured. */
  providerMode(provider: Provider, kind: TaskKind): 'SANDBOX' | 'LIVE' | undefined;
  /** The tenant's default route for a kind of task (`setDefaultRoute`), if it set one. */
  defaultRoute(kind: TaskKind): Provider[] | undefined;
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
  route: readonly Provider[],
  input: { sandbox?: { outcome: SandboxOutcome } },
  env: IntakeEnv,
): SandboxOutcome | null {
  if (!input.sandbox) return null;
  const live = route.filter((provider) => env.providerMode(provider, kind) === 'LIVE');
  if (live.length > 0) {
    throw new ValidationError([
      {
        path: ['input', 'sandbox'],
        message: `applies only in sandbox mode, and ${live.join(', ')} ${live.length > 1 ? 'are' : 'is'} LIVE (with credentials)`,
      },
    ]);
  }
  return input.sandbox.outcome;
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
 * Checks an avatar-video input against the documented limits of each provider on its route, reading
 * media facts from the bytes, before anything is stored or sent. A provider alone (`provider`) refuses
 * with a ValidationError listing every issue; on a route, a provider whose limits the input breaks is
 * dropped with a note, and the error (naming each provider's reasons) comes only when none remains.
 */
export async function intakeAvatarVideo(raw: unknown, env: IntakeEnv): Promise<TaskDraft> {
  // Naming neither a provider nor a route: the tenant's default route, if it set one.
  const asked = (raw ?? {}) as { provider?: unknown; route?: unknown };
  const byDefault = asked.provider == null && asked.route == null ? env.defaultRoute('AVATAR_VIDEO') : undefined;
  const input = parse<CreateAvatarVideoInput>(byDefault ? avatarVideoFieldsSchema : createAvatarVideoInputSchema, raw);
  const webhookUrl = checkWebhookUrl(input.webhookUrl, env);
  const fallback = input.route ?? byDefault;
  const route = fallback ?? [input.provider ?? 'KLING'];
  const onRoute = fallback !== undefined;
  if (onRoute) {
    const wrong = routeOptionIssues(route, input);
    if (wrong.length > 0) throw new ValidationError(issuesFromZod(wrong, ['input']));
  }
  const shown = {
    ...(onRoute ? { route } : { provider: route[0] }),
    image: elide(input.image),
    video: elide(input.video),
    audio: elide(input.audio),
    prompt: input.prompt,
  };
  return draft('AVATAR_VIDEO', route, onRoute, input, webhookUrl, shown, env, (provider) => ({
    // Alone, its provider's rules were applied by the schema; on a route, each provider's here.
    issues: onRoute ? issuesFromZod(avatarInputIssues(provider, input, true), ['input']) : [],
    build: (reader) => offered(provider, PROVIDER_SLICES[provider].avatarVideo)(input, reader),
  }));
}

/** Checks a video-sound input (Kling video-to-audio) the same way. */
export async function intakeVideoSound(raw: unknown, env: IntakeEnv): Promise<TaskDraft> {
  const input = parse<CreateVideoSoundInput>(createVideoSoundInputSchema, raw);
  const webhookUrl = checkWebhookUrl(input.webhookUrl, env);
  return draft('VIDEO_SOUND', [input.provider], false, input, webhookUrl, { provider: input.provider }, env, () => ({
    issues: [],
    build: (reader) => offered(input.provider, PROVIDER_SLICES[input.provider].videoSound)(input, reader),
  }));
}

/** One provider's part of a create: what its rules refuse in the input, and how to build its request. */
interface ProviderPart {
  issues: FieldIssue[];
  build: (reader: MediaReader) => Promise<ProviderDraft>;
}

/** Each provider's part of the draft, built once every media input is read and found within its limits. */
async function draft(
  kind: TaskKind,
  route: readonly Provider[],
  onRoute: boolean,
  input: { externalTaskId?: string; sandbox?: { outcome: SandboxOutcome } },
  webhookUrl: string | null,
  shown: Record<string, unknown>,
  env: IntakeEnv,
  partOf: (provider: Provider) => ProviderPart,
): Promise<TaskDraft> {
  const outcome = sandboxOutcome(kind, route, input, env);
  const uploads: PendingUpload[] = [];
  const steps: (DraftStep & { shown: Record<string, unknown> })[] = [];
  const refused: { provider: Provider; issues: FieldIssue[] }[] = [];
  for (const provider of route) {
    const part = partOf(provider);
    const reader = new MediaReader(env, uploads);
    const drafted = part.issues.length === 0 ? await part.build(reader) : null;
    const issues = [...part.issues, ...reader.issues];
    if (!onRoute && issues.length > 0) throw new ValidationError(issues);
    if (issues.length > 0 || !drafted) {
      refused.push({ provider, issues });
      continue;
    }
    // Only a task that asks for an outcome carries one (so every other request is as it was).
    const request = outcome ? { ...drafted.request, sandboxOutcome: outcome } : drafted.request;
    steps.push({ provider, model: drafted.model, request, shown: drafted.shown });
  }
  if (steps.length === 0) {
    throw new ValidationError(
      refused.flatMap(({ provider, issues }) => issues.map((i) => ({ ...i, message: `${provider}: ${i.message}` }))),
    );
  }
  const kept = keepUsed(uploads, steps);
  const [first, ...rest] = kept.steps as [(typeof steps)[number], ...typeof steps];
  const asked = outcome ? { sandbox: { outcome } } : {};
  const at = new Date().toISOString();
  return {
    kind,
    provider: first.provider,
    model: first.model,
    externalTaskId: input.externalTaskId ?? null,
    webhookUrl,
    input: { ...shown, ...Object.assign({}, ...steps.map((s) => s.shown)), ...asked },
    request: first.request,
    uploads: kept.uploads,
    route: rest.map((s) => ({ provider: s.provider, model: s.model, request: s.request })),
    skipped: refused.map(({ provider, issues }) => ({
      provider,
      outcome: 'SKIPPED',
      code: 'INPUT_LIMITS',
      message: issues.map((i) => `${i.path.slice(1).join('.')} ${i.message}`).join('; '),
      at,
    })),
    fingerprint: fingerprint(kind, route, kept.steps, webhookUrl, kept.uploads),
  };
}

/**
 * The uploads the kept providers' requests name, renumbered in the order they are first named (a body
 * read only for a provider that was dropped is not stored), and the requests with the new numbers.
 */
function keepUsed<S extends { request: Record<string, unknown> }>(uploads: PendingUpload[], steps: S[]) {
  const used = new Map<number, number>();
  const kept = steps.map((step) => ({
    ...step,
    request: JSON.parse(JSON.stringify(step.request), (_key, value: unknown) => {
      if (value === null || typeof value !== 'object' || !('upload' in value)) return value;
      const n = (value as { upload: number }).upload;
      if (!used.has(n)) used.set(n, used.size);
      return { upload: used.get(n) };
    }) as Record<string, unknown>,
  }));
  return { uploads: [...used.keys()].map((n) => uploads[n]!), steps: kept };
}

/**
 * SHA-256 of what a create asks for: kind, the route asked, each provider's model and request, and the
 * webhook URL, each uploaded body as its own SHA-256 (requests are built field by field in a fixed order,
 * so equal inputs serialize equally).
 */
function fingerprint(
  kind: TaskKind,
  route: readonly Provider[],
  steps: DraftStep[],
  webhookUrl: string | null,
  uploads: PendingUpload[],
): string {
  const bodies = uploads.map((u) => u.sha256);
  const requests = steps.map((step) =>
    JSON.stringify(step.request, (_key, value: unknown) =>
      value !== null && typeof value === 'object' && 'upload' in value
        ? { sha256: bodies[(value as { upload: number }).upload] }
        : value,
    ),
  );
  // A route of one hashes as a single provider did before routing (fingerprints stored then still match).
  const asked =
    route.length === 1
      ? [steps[0]!.provider, steps[0]!.model, webhookUrl, requests[0]]
      : [route, steps.map((s) => s.model), webhookUrl, requests];
  return sha256Hex(JSON.stringify([kind, ...asked]));
}

/** A provider's builder for a kind of task; a ValidationError naming `provider` when it offers none. */
function offered<F>(provider: Provider, build: F | undefined): F {
  if (!build) throw new ValidationError([{ path: ['input', 'provider'], message: `is not offered by ${provider}` }]);
  return build;
}
