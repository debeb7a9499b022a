import { isTerminalStatus } from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';
import { Repeater } from 'graphql-yoga';
import { findTask } from '../../tasks/repository.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { isUuid } from '@clipwire/schema';
import { TaskType } from './task.js';

builder.subscriptionField('taskUpdated', (t) =>
  t.field({
    type: TaskType,
    description:
      'The task’s current state first, then every change; completes when the task reaches a terminal status.',
    args: { id: t.arg.globalID({ for: TaskType, required: true }) },
    subscribe: (_root, args, ctx) => taskUpdates(ctx, args.id.id),
    resolve: (task) => task,
  }),
);

/**
 * Subscribes before reading, so no change can fall between the read and the subscription; each
 * message with a newer version yields that version's row: the one this process's change left when it
 * has it (same tenant), else the row read again as the caller.
 */
function taskUpdates(ctx: GraphQLContext, taskId: string): Repeater<TaskRow> {
  return new Repeater<TaskRow>(async (push, stop) => {
    if (!isUuid(taskId)) return stop();
    const updates = ctx.pubsub.subscribe('task:updated', taskId);
    void stop.then(() => void updates.return?.());
    let seen = 0;
    const emit = async (version?: number): Promise<boolean> => {
      const recent = version === undefined ? undefined : ctx.tasks.recentRow(taskId, version);
      const task =
        recent?.tenantId === ctx.principal.tenantId
          ? recent
          : await ctx.asTenant((db) => findTask(db, ctx.principal.tenantId, { id: taskId }));
      if (!task) return true;
      if (task.version > seen) {
        seen = task.version;
        await push(task);
      }
      return isTerminalStatus(task.status);
    };
    try {
      if (await emit()) return stop();
      for await (const message of updates) {
        if (message.version <= seen) continue;
        if (await emit(message.version)) return stop();
      }
    } catch (error) {
      stop(error);
    }
    await stop;
  });
}
