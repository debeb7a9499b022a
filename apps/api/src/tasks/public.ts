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
      videos: task.output.videos,
      audios: task.output.audios,
      error: task.error,
      cost: task.cost,
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
      completedAt: task.completedAt ?? null,
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
  videos: TaskRow['output']['videos'];
  audios: TaskRow['output']['audios'];
  error: TaskRow['error'];
  cost: TaskRow['cost'];
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
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
    occurredAt: event.occurredAt.toISOString(),
  };
}
