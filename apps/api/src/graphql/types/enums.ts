import {
  ARCHIVE_STATUSES,
  PROVIDERS,
  TASK_EVENT_SOURCES,
  TASK_EVENT_TYPES,
  TASK_KINDS,
  TASK_STATUSES,
} from '@clipwire/schema';
import { builder } from '../builder.js';

export const ProviderEnum = builder.enumType('Provider', { values: PROVIDERS });
export const TaskKindEnum = builder.enumType('TaskKind', { values: TASK_KINDS });
export const TaskStatusEnum = builder.enumType('TaskStatus', { values: TASK_STATUSES });
export const TaskEventSourceEnum = builder.enumType('TaskEventSource', {
  values: TASK_EVENT_SOURCES,
  description:
    'What caused a status change: the API call, a provider callback, a poll of the provider, or Clipwire itself.',
});
export const TaskEventTypeEnum = builder.enumType('TaskEventType', {
  values: TASK_EVENT_TYPES,
  description:
    "A status change, or the end of copying a SUCCEEDED task's outputs into Clipwire's storage (the status stays SUCCEEDED).",
});
export const ArchiveStatusEnum = builder.enumType('ArchiveStatus', {
  values: ARCHIVE_STATUSES,
  description:
    "An output's copy in Clipwire's storage: PENDING (being copied; its links are the provider's), ARCHIVED (its links are Clipwire's and keep working while the task is kept), FAILED (the provider's link could not be copied: its links stay the provider's), DELETED (removed by the retention policy: Clipwire's links answer 410 Gone).",
});
