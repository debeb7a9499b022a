import {
  SANDBOX_OUTCOMES,
  type CreateAvatarVideoInput,
  type CreateVideoSoundInput,
  type MediaInput,
  type Provider,
} from '@clipwire/schema';
import type { SimulatorOptions } from '@clipwire/providers/simulator';
import type { TaskRow } from '@clipwire/schema/tables';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { Config, ProviderSettings } from '../config.js';
import type { MediaRule } from '../media/limits.js';
import type { TaskAdapter } from './types.js';

/**
 * One provider's vertical slice: its callback route, its adapters built from its part of the
 * configuration, and the stored requests it builds from validated create inputs. Listed once in
 * registry.ts.
 */
export interface ProviderSlice {
  readonly provider: Provider;
  /** The path segment of its callback route: /callbacks/{slug}/{token}. */
  readonly slug: string;
  /** Its part of the configuration: LIVE with credentials, else SANDBOX. */
  settings(config: Config): ProviderSettings<unknown>;
  /** What the sandbox simulator needs to act as this provider for this configuration. */
  simulator(config: Config): SimulatorOptions;
  /** Its capabilities, built when it has a base URL (not when sandboxed with no simulator to talk to). */
  adapters(config: Config, client: ClientEnv): TaskAdapter[];
  /** Builds an avatar-video task from a validated input naming this provider (absent: not offered). */
  avatarVideo?(input: CreateAvatarVideoInput, media: MediaReading): Promise<ProviderDraft>;
  /** Builds a video-sound task the same way. */
  videoSound?(input: CreateVideoSoundInput, media: MediaReading): Promise<ProviderDraft>;
}

export interface AdapterEnv {
  /** The simulator started beside the API: every provider in sandbox mode without a base URL goes there. */
  sandboxUrl: string | undefined;
  dispatcher: Dispatcher | undefined;
}

/** What every provider's client is built with, and the mode it runs in. */
export interface ClientEnv {
  mode: 'SANDBOX' | 'LIVE';
  options: { baseUrl: string; dispatcher: Dispatcher | undefined; timeoutMs: number };
}

/** A request whose media references may still point at uploads not yet stored. */
export type DraftRef = { url: string } | { upload: number };

/** Reads a media input far enough to check it against a rule; null (with its issues noted) when refused. */
export interface MediaReading {
  read(media: MediaInput, path: string[], rule: MediaRule): Promise<DraftRef | null>;
  /** The bytes of every media input read and accepted so far (for a provider's limit on a whole request). */
  totalBytes(): number;
  /** Notes an issue on `path` (a rule across fields); reported with the media issues. */
  refuse(path: string[], message: string): void;
}

/** What a provider makes of a create input; the issues `read` noted are reported by the caller. */
export interface ProviderDraft {
  model: string;
  /** The provider's part of the input as shown back to clients (media bodies elided). */
  shown: Record<string, unknown>;
  /** The provider request with `{ upload: n }` where stored media go. */
  request: Record<string, unknown>;
}

/** A provider request type with its stored media references replaced by draft references. */
export type Draft<T> = {
  [K in keyof T]: T[K] extends { mediaId: string } | { url: string }
    ? DraftRef
    : T[K] extends ({ mediaId: string } | { url: string }) | null
      ? DraftRef | null
      : T[K] extends object
        ? Draft<T[K]>
        : T[K];
};

/** The sandbox outcome a task asked for (sandbox mode only; absent on every other task). */
export const storedSandboxOutcome = z.enum(SANDBOX_OUTCOMES).optional();

/** The create options a stored request asks for: its sandbox outcome, sent only to a provider in SANDBOX mode. */
export function sandboxCreateOptions(
  mode: 'SANDBOX' | 'LIVE',
  request: { sandboxOutcome?: z.infer<typeof storedSandboxOutcome> },
): { sandboxOutcome?: NonNullable<z.infer<typeof storedSandboxOutcome>> } {
  return mode === 'SANDBOX' && request.sandboxOutcome ? { sandboxOutcome: request.sandboxOutcome } : {};
}

/** A media input as stored with a task: a URL the provider fetches itself, or bytes Clipwire keeps. */
export const storedMediaRef = z.union([z.object({ url: z.string() }), z.object({ mediaId: z.string() })]);

/** A task's stored provider request, read back through the provider's schema. */
export function storedRequest<T>(schema: z.ZodType<T>, task: Pick<TaskRow, 'id' | 'providerRequest'>): T {
  const parsed = schema.safeParse(task.providerRequest);
  if (!parsed.success) throw new Error(`task ${task.id}: malformed provider request: ${parsed.error.message}`);
  return parsed.data;
}

/** A media input as shown back to clients: its URL, or only the size of the bytes it carried. */
export function elide(media: MediaInput | undefined): Record<string, unknown> | undefined {
  if (!media) return undefined;
  if (media.url !== undefined) return { url: media.url };
  if (media.base64 !== undefined) return { base64: { elided: true, chars: media.base64.length } };
  const file = media.file as Blob & { name?: string };
  return { file: { name: file.name ?? null, size: file.size, type: file.type || null } };
}

/** A provider's adapters: where its client goes (its live URL, or in sandbox mode its own or the simulator's). */
export function sliceAdapters(slice: ProviderSlice, config: Config, env: AdapterEnv): TaskAdapter[] {
  const settings = slice.settings(config);
  const baseUrl = settings.mode === 'LIVE' ? settings.baseUrl : (settings.baseUrl ?? env.sandboxUrl);
  if (!baseUrl) return [];
  return slice.adapters(config, {
    mode: settings.mode,
    options: { baseUrl, dispatcher: env.dispatcher, timeoutMs: config.providerTimeoutMs },
  });
}

/** The stored media a provider request refers to (`{ mediaId }` anywhere in it). */
export function mediaIdsOf(request: unknown): string[] {
  const ids = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.mediaId === 'string' && Object.keys(o).length === 1) ids.add(o.mediaId);
      else Object.values(o).forEach(walk);
    }
  };
  walk(request);
  return [...ids];
}
