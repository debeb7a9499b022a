import { GraphQLError } from 'graphql';
import { latestTenantEventId } from '../../tasks/events.js';
import { builder } from '../builder.js';
import { normalizeFilter, TaskFilterInput } from './task.js';
import { TaskEventType } from './task-event.js';

builder.subscriptionField('taskEvents', (t) =>
  t.field({
    type: TaskEventType,
    description:
      'Your tenant’s events, oldest first: those after the cursor `after` (an event’s `cursor`) from the database, then each new one as it happens. Resuming with the last cursor you saw gives every event exactly once, in order.',
    args: {
      filter: t.arg({ type: TaskFilterInput }),
      after: t.arg.string(),
    },
    subscribe: (_root, args, ctx) => {
      const after = args.after == null ? 0 : parseCursor(args.after);
      for (const field of ['createdFrom', 'createdTo', 'externalTaskIdPrefix'] as const) {
        if (args.filter?.[field] != null)
          throw new GraphQLError(`filter.${field}: applies to the tasks query, not to taskEvents`, {
            extensions: { code: 'BAD_USER_INPUT' },
          });
      }
      return ctx.feeds.subscribe(ctx.principal.tenantId, after, normalizeFilter(args.filter));
    },
    resolve: (event) => event,
  }),
);

function parseCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor))
    throw new GraphQLError('after: is not an event cursor', { extensions: { code: 'BAD_USER_INPUT' } });
  return Number(cursor);
}

builder.queryField('latestTaskEventCursor', (t) =>
  t.string({
    nullable: true,
    description:
      'The cursor of your newest event (null when there is none): subscribe to taskEvents(after:) with it to follow only what happens from now on.',
    resolve: async (_root, _args, ctx) => {
      const id = await latestTenantEventId(ctx.db, ctx.principal.tenantId);
      return id === 0 ? null : String(id);
    },
  }),
);
