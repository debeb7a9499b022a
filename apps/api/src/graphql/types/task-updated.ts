import { isTerminalStatus } from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';
import { findTask } from '../../tasks/repository.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { isUuid, TaskType } from './task.js';

builder.subscriptionField('taskUpdated', (t) =>
  t.field({
    type: TaskType,
    description: 'The task’s current state first, then every change; completes when the task reaches a terminal status.',
    args: { id: t.arg.globalID({ for: TaskType, required: true }) },
    subscribe: (_root, args, ctx) => taskUpdates(ctx, args.id.id),
    resolve: (task) => task,
  }),
);

async function* taskUpdates(ctx: GraphQLContext, taskId: string): AsyncGenerator<TaskRow> {
  if (!isUuid(taskId)) return;
  // Subscribe before reading, so no change can fall between the read and the subscription.
  const updates = ctx.pubsub.subscribe('task:updated', taskId);
  try {
    let task = await findTask(ctx.db, ctx.principal.tenantId, { id: taskId });
    if (!task) return;
    yield task;
    let seen = task.version;
    if (isTerminalStatus(task.status)) return;
    for await (const message of updates) {
      if (message.version <= seen) continue;
      task = await findTask(ctx.db, ctx.principal.tenantId, { id: taskId });
      if (!task || task.version <= seen) continue;
      seen = task.version;
      yield task;
      if (isTerminalStatus(task.status)) return;
    }
  } finally {
    await updates.return?.();
  }
}
