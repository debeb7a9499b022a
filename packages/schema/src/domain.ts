/** Domain vocabulary shared by the API, the workers and the console. */
export const TASK_STATUSES = ['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELED'];

export const TASK_KINDS = ['AVATAR_VIDEO', 'VIDEO_SOUND'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export const PROVIDERS = ['KLING', 'KIE', 'DIGITAL_HUMAN'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const TASK_EVENT_SOURCES = ['API', 'CALLBACK', 'POLL', 'SYSTEM'] as const;
export type TaskEventSource = (typeof TASK_EVENT_SOURCES)[number];

/**
 * What an event records: a status change, or (after SUCCEEDED, the status unchanged) the outcome of
 * copying the task's outputs into storage.
 */
export const TASK_EVENT_TYPES = ['STATUS_CHANGED', 'OUTPUTS_ARCHIVED', 'OUTPUTS_ARCHIVE_FAILED', 'ROUTED'] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];

/**
 * How one provider of a task's route dealt with it. SKIPPED: never sent (its limits refuse the input,
 * or it was refusing the account or had its circuit open when the task was created). REFUSED: it
 * answered a create with a refusal. UNAVAILABLE: it could not be reached, or stayed busy, and provably
 * holds no create. ACCEPTED: the task runs there. PENDING: it is being sent there. STOPPED: the task
 * ended there without being accepted (canceled, or a create whose outcome could not be known).
 */
export const ROUTE_OUTCOMES = ['SKIPPED', 'REFUSED', 'UNAVAILABLE', 'ACCEPTED', 'PENDING', 'STOPPED'] as const;
export type RouteOutcome = (typeof ROUTE_OUTCOMES)[number];

/** One provider of a task's route and what came of it (the task row keeps those before the current one). */
export interface RouteAttempt {
  provider: Provider;
  outcome: RouteOutcome;
  /** The provider's code (`1102`), or ours (`CIRCUIT_OPEN`, `INPUT_LIMITS`, `BUSY`). */
  code: string | null;
  message: string | null;
  /** ISO time. */
  at: string;
}

/** A provider further along a task's route, with the request built for it at create. */
export interface RouteStep {
  provider: Provider;
  model: string;
  request: Record<string, unknown>;
}

/**
 * Status only ever moves up this ladder. All terminal statuses share the top rung, so once a
 * task is terminal nothing moves it again.
 */
const RANK: Record<TaskStatus, number> = {
  PENDING: 0,
  SUBMITTED: 1,
  PROCESSING: 2,
  SUCCEEDED: 3,
  FAILED: 3,
  CANCELED: 3,
};

export function isTerminalStatus(status: TaskStatus): boolean {
  return RANK[status] === 3;
}

/** The statuses a task may be in for a move to `to` to be a forward step. */
export function statusesBefore(to: TaskStatus): TaskStatus[] {
  return TASK_STATUSES.filter((s) => RANK[s] < RANK[to]);
}

/**
 * Where an output is in Clipwire's storage: PENDING until the archive job copied it, ARCHIVED (its
 * links are then Clipwire's), FAILED (the provider's link could not be copied while it lived),
 * DELETED (removed by the retention policy or with its task: Clipwire's links answer 410 Gone).
 */
export const ARCHIVE_STATUSES = ['PENDING', 'ARCHIVED', 'FAILED', 'DELETED'] as const;
export type ArchiveStatus = (typeof ARCHIVE_STATUSES)[number];

/** The link fields of the outputs: each is one file the provider serves. */
export type OutputLinkField = 'url' | 'watermarkUrl' | 'mp3Url' | 'wavUrl';

/** One output file copied into storage. */
export interface ArchivedFile {
  /** The object's key in the store (under outputs/{tenantId}/{taskId}/). */
  key: string;
  /** Clipwire's link to it (signed, does not expire; answers 410 once the object is deleted). */
  url: string;
  sizeBytes: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  contentType: string;
}

/** The archive state of one output (a video, or an audio in its formats). */
export interface OutputArchive {
  status: ArchiveStatus;
  /** The copies made so far, by link field: a resumed archive job skips these. */
  files: Partial<Record<OutputLinkField, ArchivedFile>>;
  /** Why it FAILED. */
  error?: string;
}

/**
 * A video as the provider reported it: `url` and `watermarkUrl` are always the provider's links (what
 * clients see depends on `archive`, see the API's tasks/public.ts).
 */
export interface TaskVideo {
  id: string;
  url: string;
  watermarkUrl: string | null;
  durationSeconds: number | null;
  /** When the provider deletes its links, as documented (ISO time; absent when undocumented). */
  providerUrlExpiresAt?: string | null;
  /** Absent when archiving was off when the task succeeded (or the task predates it). */
  archive?: OutputArchive;
}

export interface TaskAudio {
  id: string;
  mp3Url: string | null;
  wavUrl: string | null;
  mp3DurationSeconds: number | null;
  wavDurationSeconds: number | null;
  providerUrlExpiresAt?: string | null;
  archive?: OutputArchive;
}

export interface TaskOutput {
  videos: TaskVideo[];
  audios: TaskAudio[];
  /** The task's archive as a whole: what the archive job and the retention sweep look at. */
  archive?: { status: ArchiveStatus; archivedAt?: string; deletedAt?: string };
}

export interface TaskErrorInfo {
  code: string;
  message: string;
  providerCode: string | null;
}

export interface TaskCostInfo {
  units: string | null;
}

/** Ids of tasks, keys and media are UUIDs: anything else is unknown, never sent to a ::uuid cast. */
export const UUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UUID = new RegExp(`^${UUID_PATTERN}$`, 'i');
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
