import {
  ARCHIVE_STATUSES,
  PROVIDERS,
  SANDBOX_OUTCOMES,
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

export const SandboxOutcomeEnum = builder.enumType('SandboxOutcome', {
  values: SANDBOX_OUTCOMES,
  description:
    'What the sandbox simulator is asked to do with a task: FAIL (the provider fails it with its code and message), SLOW (it takes 5 times as long), LOST_CALLBACK (no callback arrives: polling finishes it).',
});

export const SandboxOptions = builder.inputType('SandboxOptions', {
  description:
    'Sandbox mode only (a provider without credentials): an outcome on demand, to see failures and slow or silent providers without live credentials. Refused with a ValidationError when the provider is LIVE.',
  fields: (t) => ({ outcome: t.field({ type: SandboxOutcomeEnum, required: true }) }),
});
export const TaskEventTypeEnum = builder.enumType('TaskEventType', {
  values: TASK_EVENT_TYPES,
  description:
    "A status change; the end of copying a SUCCEEDED task's outputs into Clipwire's storage (the status stays SUCCEEDED); or ROUTED, a move to the next provider of the task's route (the status stays PENDING).",
});
export const ArchiveStatusEnum = builder.enumType('ArchiveStatus', {
  values: ARCHIVE_STATUSES,
  description:
    "An output's copy in Clipwire's storage: PENDING (being copied; its links are the provider's), ARCHIVED (its links are Clipwire's and keep working while the task is kept), FAILED (the provider's link could not be copied: its links stay the provider's), DELETED (removed by the retention policy: Clipwire's links answer 410 Gone).",
});
