import { PROVIDERS, TASK_EVENT_SOURCES, TASK_KINDS, TASK_STATUSES } from '@clipwire/schema';
import { builder } from '../builder.js';

export const ProviderEnum = builder.enumType('Provider', { values: PROVIDERS });
export const TaskKindEnum = builder.enumType('TaskKind', { values: TASK_KINDS });
export const TaskStatusEnum = builder.enumType('TaskStatus', { values: TASK_STATUSES });
export const TaskEventSourceEnum = builder.enumType('TaskEventSource', {
  values: TASK_EVENT_SOURCES,
  description:
    'What caused a status change: the API call, a provider callback, a poll of the provider, or Clipwire itself.',
});
