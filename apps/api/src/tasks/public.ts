import type { TaskEventRow, TaskRow } from '@clipwire/schema/tables';
import { encodeGlobalID } from '@pothos/plugin-relay';

/** The task as partners see it outside GraphQL (webhooks): the same ids and field names. */
export function publicTask(task: TaskRow) {
  return {
    id: encodeGlobalID('Task', task.id),
    kind: task.kind,
    provider: task.provider,
    model: task.model,
    status: task.status,
    statusMessage: task.statusMessage,
    progress: task.progress,
    externalTaskId: task.externalTaskId,
    providerTaskId: task.providerTaskId,
    videos: task.output.videos,
    audios: task.output.audios,
    error: task.error,
    cost: task.cost,
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
    completedAt: task.completedAt?.toISOString() ?? null,
  };
}

export function publicEvent(event: TaskEventRow) {
  return {
    id: encodeGlobalID('TaskEvent', String(event.id)),
    cursor: String(event.id),
    status: event.status,
    message: event.message,
    source: event.source,
    occurredAt: event.occurredAt.toISOString(),
  };
}
