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

export interface TaskVideo {
  id: string;
  url: string;
  watermarkUrl: string | null;
  durationSeconds: number | null;
}

export interface TaskAudio {
  id: string;
  mp3Url: string | null;
  wavUrl: string | null;
  mp3DurationSeconds: number | null;
  wavDurationSeconds: number | null;
}

export interface TaskOutput {
  videos: TaskVideo[];
  audios: TaskAudio[];
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
