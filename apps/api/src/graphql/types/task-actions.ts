import { builder } from '../builder.js';
import { isUuid } from '@clipwire/schema';
import { TaskType } from './task.js';

builder.mutationField('cancelTask', (t) =>
  t.field({
    type: TaskType,
    nullable: true,
    description:
      'Stops a task that is not final: a PENDING task is never submitted; a running one ends CANCELED and is no longer followed (no provider can cancel upstream). Null for an unknown id.',
    args: { id: t.arg.globalID({ for: TaskType, required: true }) },
    resolve: (_root, { id }, ctx) => (isUuid(id.id) ? ctx.tasks.cancel(ctx.principal, id.id) : null),
  }),
);

builder.mutationField('refreshTask', (t) =>
  t.field({
    type: TaskType,
    nullable: true,
    description: 'Re-reads the task’s status from its provider now. Null for an unknown id.',
    args: { id: t.arg.globalID({ for: TaskType, required: true }) },
    resolve: (_root, { id }, ctx) => (isUuid(id.id) ? ctx.tasks.refresh(ctx.principal, id.id) : null),
  }),
);

builder.mutationField('deleteTask', (t) =>
  t.field({
    type: TaskType,
    nullable: true,
    description:
      'Right to erasure: deletes the task’s stored media now — its inputs (their /media links then answer 410 Gone) and its archived outputs — and sets `erasedAt`. A task not final is canceled first, as by cancelTask. The task itself, its status and its events stay, so feeds, webhooks and lookups by id keep working. Repeating it is harmless. Null for an unknown id.',
    args: { id: t.arg.globalID({ for: TaskType, required: true }) },
    resolve: (_root, { id }, ctx) => (isUuid(id.id) ? ctx.tasks.erase(ctx.principal, id.id) : null),
  }),
);
