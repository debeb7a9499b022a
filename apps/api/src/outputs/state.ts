import type {
  ArchivedFile,
  ArchiveStatus,
  OutputArchive,
  OutputLinkField,
  Provider,
  TaskAudio,
  TaskOutput,
  TaskVideo,
} from '@clipwire/schema';

/**
 * How long each provider keeps its output links, as its documentation says, in days (null: not
 * documented). Kling: "Output URLs are deleted by Kling after 30 days" (docs/providers/kling.md; the
 * API pages mark each result URL "30天后清理", cleared after 30 days). KIE: "KIE keeps media 14 days;
 * result URLs may expire sooner" (docs/providers/kie.md). The reseller documents none
 * (docs/providers/digital-human.md).
 */
export const PROVIDER_OUTPUT_DAYS: Record<Provider, number | null> = { KLING: 30, KIE: 14, DIGITAL_HUMAN: null };

/** When the provider's links are presumed gone, for the archive job's retries when none is documented. */
const UNDOCUMENTED_LINK_HOURS = 24;

/** One file of a task's outputs: which output, which of its links, and its name in storage. */
export interface OutputFile {
  list: 'videos' | 'audios';
  index: number;
  field: OutputLinkField;
  /** The provider's link. */
  url: string;
  /** Its name under the task's prefix, the same on every run (so a resumed copy replaces, never adds). */
  name: string;
}

/** The key prefix of a task's archived outputs (deleteTask and retention delete it whole). */
export function outputPrefix(tenantId: string, taskId: string): string {
  return `outputs/${tenantId}/${taskId}/`;
}

/**
 * A SUCCEEDED report's outputs as stored: each with its provider's documented link expiry and, when
 * archiving is on and there is something to copy, a PENDING archive (which queues the archive job).
 */
export function succeededOutput(output: TaskOutput, provider: Provider, at: Date, archive: boolean): TaskOutput {
  const days = PROVIDER_OUTPUT_DAYS[provider];
  const providerUrlExpiresAt = days === null ? null : new Date(at.getTime() + days * 86_400_000).toISOString();
  const pending = (): OutputArchive | undefined => (archive ? { status: 'PENDING', files: {} } : undefined);
  const next: TaskOutput = {
    videos: output.videos.map((v) => withArchive({ ...v, providerUrlExpiresAt }, pending())),
    audios: output.audios.map((a) => withArchive({ ...a, providerUrlExpiresAt }, pending())),
  };
  if (archive && outputFiles(next).length > 0) next.archive = { status: 'PENDING' };
  return next;
}

function withArchive<T extends TaskVideo | TaskAudio>(output: T, archive: OutputArchive | undefined): T {
  return archive ? { ...output, archive } : output;
}

/** Every provider link of a task's outputs, in a stable order. */
export function outputFiles(output: TaskOutput): OutputFile[] {
  const files: OutputFile[] = [];
  const add = (list: OutputFile['list'], index: number, field: OutputLinkField, url: string | null, name: string) => {
    if (url) files.push({ list, index, field, url, name: `${name}${extensionOf(url)}` });
  };
  output.videos.forEach((v, i) => {
    add('videos', i, 'url', v.url, `video-${i}`);
    add('videos', i, 'watermarkUrl', v.watermarkUrl, `video-${i}-watermarked`);
  });
  output.audios.forEach((a, i) => {
    add('audios', i, 'mp3Url', a.mp3Url, `audio-${i}-mp3`);
    add('audios', i, 'wavUrl', a.wavUrl, `audio-${i}-wav`);
  });
  return files;
}

const EXTENSIONS = /\.(mp4|mov|webm|mp3|wav|m4a|aac|ogg|flac|webp|gif|png|jpe?g)$/i;

function extensionOf(url: string): string {
  try {
    return EXTENSIONS.exec(new URL(url).pathname)?.[0]?.toLowerCase() ?? '';
  } catch {
    return '';
  }
}

function archiveOf(output: TaskOutput, file: Pick<OutputFile, 'list' | 'index'>): OutputArchive | undefined {
  return (file.list === 'videos' ? output.videos[file.index] : output.audios[file.index])?.archive;
}

/** The copy of `file` made by an earlier run, if any. */
export function archivedCopy(output: TaskOutput, file: OutputFile): ArchivedFile | undefined {
  return archiveOf(output, file)?.files[file.field];
}

/** The output with `copy` recorded for `file`. */
export function recordCopy(output: TaskOutput, file: OutputFile, copy: ArchivedFile): TaskOutput {
  return mapArchives(output, (archive, list, index) =>
    list === file.list && index === file.index
      ? { ...archive, files: { ...archive.files, [file.field]: copy } }
      : archive,
  );
}

/**
 * The end of archiving: each output ARCHIVED when all its files were copied, else FAILED with the
 * reason; the task ARCHIVED only when every output is.
 */
export function settleArchive(
  output: TaskOutput,
  failures: ReadonlyMap<string, string>,
  now: Date,
): { output: TaskOutput; status: 'ARCHIVED' | 'FAILED' } {
  const files = outputFiles(output);
  let failed = false;
  const settled = mapArchives(output, (archive, list, index) => {
    const mine = files.filter((f) => f.list === list && f.index === index);
    const missing = mine.filter((f) => !archive.files[f.field]);
    if (missing.length === 0) return { status: 'ARCHIVED', files: archive.files };
    failed = true;
    const reasons = missing.map((f) => `${f.field}: ${failures.get(f.name) ?? 'not copied'}`);
    return { status: 'FAILED', files: archive.files, error: reasons.join('; ') };
  });
  const status = failed ? 'FAILED' : 'ARCHIVED';
  return { output: { ...settled, archive: { status, archivedAt: now.toISOString() } }, status };
}

/** The output once its archived copies were deleted (their links answer 410 Gone from then on). */
export function markDeleted(output: TaskOutput, now: Date): TaskOutput {
  const deleted = mapArchives(output, (archive) =>
    archive.status === 'ARCHIVED' ? { ...archive, status: 'DELETED' as ArchiveStatus } : archive,
  );
  return { ...deleted, archive: { ...output.archive, status: 'DELETED', deletedAt: now.toISOString() } };
}

/** Until when the provider's links may be retried: the earliest documented expiry, or a day after the task finished. */
export function linksAliveUntil(output: TaskOutput, completedAt: Date): Date {
  const documented = [...output.videos, ...output.audios]
    .map((o) => (o.providerUrlExpiresAt ? Date.parse(o.providerUrlExpiresAt) : Number.NaN))
    .filter((t) => !Number.isNaN(t));
  if (documented.length > 0) return new Date(Math.min(...documented));
  return new Date(completedAt.getTime() + UNDOCUMENTED_LINK_HOURS * 3_600_000);
}

function mapArchives(
  output: TaskOutput,
  fn: (archive: OutputArchive, list: OutputFile['list'], index: number) => OutputArchive,
): TaskOutput {
  return {
    ...output,
    videos: output.videos.map((v, i) => (v.archive ? { ...v, archive: fn(v.archive, 'videos', i) } : v)),
    audios: output.audios.map((a, i) => (a.archive ? { ...a, archive: fn(a.archive, 'audios', i) } : a)),
  };
}
