import type { TaskEventRow } from '@clipwire/schema/tables';
import { findTaskEvent } from '../../tasks/events.js';
import { findTaskById } from '../../tasks/repository.js';
import { builder } from '../builder.js';
import { TaskEventSourceEnum, TaskStatusEnum } from './enums.js';
import { TaskRef } from './task.js';

export const TaskEventType = builder.node(builder.objectRef<TaskEventRow>('TaskEvent'), {
  description: 'One status change of a task. Its cursor orders every event of the tenant.',
  id: { resolve: (e) => String(e.id) },
  loadOne: (id, ctx) => (/^\d{1,15}$/.test(id) ? findTaskEvent(ctx.db, ctx.principal.tenantId, Number(id)) : null),
  fields: (t) => ({
    cursor: t.string({ resolve: (e) => String(e.id) }),
    status: t.expose('status', { type: TaskStatusEnum }),
    message: t.exposeString('message', { nullable: true }),
    source: t.expose('source', { type: TaskEventSourceEnum }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    task: t.field({
      type: TaskRef,
      // Events are only ever reached through a task of the caller's tenant, or a tenant-scoped feed.
      resolve: async (e, _args, ctx) => {
        const task = await findTaskById(ctx.db, e.taskId);
        if (!task || task.tenantId !== ctx.principal.tenantId) throw new Error('task of an event not found');
        return task;
      },
    }),
  }),
});
