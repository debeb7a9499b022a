import type { TaskEventRow, TaskRow } from '@clipwire/schema/tables';
import { findTaskEvent } from '../../tasks/events.js';
import { findTasksByIds } from '../../tasks/repository.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { TaskEventSourceEnum, TaskEventTypeEnum, TaskStatusEnum } from './enums.js';
import { TaskRef } from './task.js';

/** The tasks of a batch of events, in one query scoped to the caller's tenant, in the order of the ids. */
async function loadEventTasks(ids: string[], ctx: GraphQLContext): Promise<(TaskRow | Error)[]> {
  const rows = await findTasksByIds(ctx.db, ctx.principal.tenantId, [...new Set(ids)]);
  const byId = new Map(rows.map((task) => [task.id, task]));
  return ids.map((id) => byId.get(id) ?? new Error('task of an event not found'));
}

export const TaskEventType = builder.node(builder.objectRef<TaskEventRow>('TaskEvent'), {
  description: 'One status change of a task. Its cursor orders every event of the tenant.',
  id: { resolve: (e) => String(e.id) },
  loadOne: (id, ctx) => (/^\d{1,15}$/.test(id) ? findTaskEvent(ctx.db, ctx.principal.tenantId, Number(id)) : null),
  fields: (t) => ({
    cursor: t.string({ resolve: (e) => String(e.id) }),
    status: t.expose('status', { type: TaskStatusEnum }),
    message: t.exposeString('message', { nullable: true }),
    source: t.expose('source', { type: TaskEventSourceEnum }),
    type: t.expose('type', { type: TaskEventTypeEnum }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    // Events are only ever reached through a task of the caller's tenant, or a tenant-scoped feed.
    // Batched per tick, not cached: a subscription keeps its context across events, and each event
    // must see its task as it is now.
    task: t.loadable({
      type: TaskRef,
      load: loadEventTasks,
      loaderOptions: { cache: false },
      resolve: (e) => e.taskId,
    }),
  }),
});
