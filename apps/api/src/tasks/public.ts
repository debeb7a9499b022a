import type {
  ArchiveStatus,
  OutputArchive,
  OutputLinkField,
  Provider,
  RouteAttempt,
  TaskAudio,
  TaskVideo,
} from '@clipwire/schema';
import type { TaskEventRow, TaskRow } from '@clipwire/schema/tables';
import { encodeGlobalID } from '@pothos/plugin-relay';

const views = new WeakMap<TaskRow, TaskView>();

/**
 * The task as clients see it: the values of GraphQL's Task fields (they resolve from this) and of the
 * webhook body's `task` (publicTask), so the two cannot drift. Made once per row.
 */
export function taskView(task: TaskRow): TaskView {
  let view = views.get(task);
  if (!view) {
    view = {
      id: encodeGlobalID('Task', task.id),
      kind: task.kind,
      provider: task.provider,
      model: task.model,
      status: task.status,
      statusMessage: task.statusMessage,
      // Providers do not all report progress: a succeeded task is done.
      progress: task.progress ?? (task.status === 'SUCCEEDED' ? 1 : null),
      externalTaskId: task.externalTaskId,
      providerTaskId: task.providerTaskId,
      // An erased task's (deleteTask) stored outputs are gone with it.
      videos: task.output.videos.map((v) => videoView(v, task.erasedAt !== null)),
      audios: task.output.audios.map((a) => audioView(a, task.erasedAt !== null)),
      error: task.error,
      cost: task.cost,
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
      completedAt: task.completedAt ?? null,
      attempts: [...task.attempts, currentAttempt(task)],
      route: task.route.map((step) => step.provider),
    };
    views.set(task, view);
  }
  return view;
}

export interface TaskView {
  /** The task's global id, as GraphQL's node id. */
  id: string;
  kind: TaskRow['kind'];
  provider: TaskRow['provider'];
  model: string;
  status: TaskRow['status'];
  statusMessage: string | null;
  /** From 0 to 1, when known. */
  progress: number | null;
  externalTaskId: string | null;
  providerTaskId: string | null;
  videos: VideoView[];
  audios: AudioView[];
  error: TaskRow['error'];
  cost: TaskRow['cost'];
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
  /** The route so far: each provider tried before `provider`, and `provider` itself last. */
  attempts: RouteAttempt[];
  /** The providers still to try if `provider` does not take the task. */
  route: Provider[];
}

/** Where the task stands with its current provider, as the last entry of its attempts. */
function currentAttempt(task: TaskRow): RouteAttempt {
  const base = { provider: task.provider, code: null, message: null };
  if (task.submittedAt || task.providerTaskId) {
    return { ...base, outcome: 'ACCEPTED', at: (task.submittedAt ?? task.updatedAt).toISOString() };
  }
  const since = task.attempts.at(-1)?.at ?? task.createdAt.toISOString();
  if (task.status === 'PENDING') return { ...base, outcome: 'PENDING', at: since };
  const error = task.error;
  const refused = error?.code.startsWith('PROVIDER_') ?? false;
  return {
    ...base,
    outcome: refused ? 'REFUSED' : 'STOPPED',
    code: (refused ? error?.providerCode : null) ?? error?.code ?? task.status,
    message: error?.message ?? task.statusMessage,
    at: (task.completedAt ?? task.updatedAt).toISOString(),
  };
}

/** What every output shows of its archive: the provider's links and how long they live, and the archive's status. */
interface ArchiveView {
  providerUrlExpiresAt: string | null;
  /** Null when Clipwire does not keep the output (ARCHIVE_OUTPUTS was off when the task succeeded). */
  archiveStatus: ArchiveStatus | null;
}

export interface VideoView extends ArchiveView {
  id: string;
  /** Clipwire's copy once ARCHIVED (and after it was DELETED: the link then answers 410), else the provider's. */
  url: string;
  watermarkUrl: string | null;
  durationSeconds: number | null;
  providerUrl: string;
  providerWatermarkUrl: string | null;
}

export interface AudioView extends ArchiveView {
  id: string;
  mp3Url: string | null;
  wavUrl: string | null;
  mp3DurationSeconds: number | null;
  wavDurationSeconds: number | null;
  /** The provider's main link (its MP3, else its WAV). */
  providerUrl: string | null;
  providerMp3Url: string | null;
  providerWavUrl: string | null;
}

/** The link clients get for one field: Clipwire's copy once the output is archived, else the provider's. */
function shown(archive: OutputArchive | undefined, field: OutputLinkField, providerUrl: string | null): string | null {
  const copied = archive && (archive.status === 'ARCHIVED' || archive.status === 'DELETED');
  return (copied ? archive.files[field]?.url : undefined) ?? providerUrl;
}

function archiveView(output: TaskVideo | TaskAudio, erased: boolean): ArchiveView {
  const status = output.archive?.status ?? null;
  return {
    providerUrlExpiresAt: output.providerUrlExpiresAt ?? null,
    archiveStatus: erased && status === 'ARCHIVED' ? 'DELETED' : status,
  };
}

function videoView(v: TaskVideo, erased: boolean): VideoView {
  return {
    id: v.id,
    url: shown(v.archive, 'url', v.url) ?? v.url,
    watermarkUrl: shown(v.archive, 'watermarkUrl', v.watermarkUrl),
    durationSeconds: v.durationSeconds,
    providerUrl: v.url,
    providerWatermarkUrl: v.watermarkUrl,
    ...archiveView(v, erased),
  };
}

function audioView(a: TaskAudio, erased: boolean): AudioView {
  return {
    id: a.id,
    mp3Url: shown(a.archive, 'mp3Url', a.mp3Url),
    wavUrl: shown(a.archive, 'wavUrl', a.wavUrl),
    mp3DurationSeconds: a.mp3DurationSeconds,
    wavDurationSeconds: a.wavDurationSeconds,
    providerUrl: a.mp3Url ?? a.wavUrl,
    providerMp3Url: a.mp3Url,
    providerWavUrl: a.wavUrl,
    ...archiveView(a, erased),
  };
}

/** The task in a webhook body: its view, with times as ISO strings (as GraphQL's DateTime gives them). */
export function publicTask(task: TaskRow) {
  const view = taskView(task);
  return {
    ...view,
    createdAt: view.createdAt.toISOString(),
    updatedAt: view.updatedAt.toISOString(),
    completedAt: view.completedAt?.toISOString() ?? null,
  };
}

export function publicEvent(event: TaskEventRow) {
  return {
    id: encodeGlobalID('TaskEvent', String(event.id)),
    cursor: String(event.id),
    status: event.status,
    message: event.message,
    source: event.source,
    type: event.type,
    occurredAt: event.occurredAt.toISOString(),
  };
}
