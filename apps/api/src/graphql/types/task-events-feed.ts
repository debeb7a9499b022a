import type { TaskEventRow } from '@clipwire/schema/tables';
import { GraphQLError } from 'graphql';
import { Repeater } from 'graphql-yoga';
import { listTenantEvents, type EventFilter } from '../../tasks/repository.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { TaskFilterInput } from './task.js';
import { TaskEventType } from './task-event.js';

const PAGE = 500;

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
      return tenantFeed(ctx, after, args.filter ?? undefined);
    },
    resolve: (event) => event,
  }),
);

function parseCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) throw new GraphQLError('after: is not an event cursor', { extensions: { code: 'BAD_USER_INPUT' } });
  return Number(cursor);
}

/**
 * Reads the feed from the database by cursor, always: published messages only say "there is more".
 * So the switch from replay to live cannot drop or repeat an event, whatever arrives meanwhile,
 * and event ids become visible in order (see lockTenantFeed). A Repeater, so that an unsubscribe
 * ends it at once even while it waits, and `push` applies back-pressure to the reads.
 */
function tenantFeed(ctx: GraphQLContext, after: number, filter?: EventFilter): Repeater<TaskEventRow> {
  return new Repeater<TaskEventRow>(async (push, stop) => {
    const signals = ctx.pubsub.subscribe('tenant:events', ctx.principal.tenantId);
    let cursor = after;
    let reading = false;
    let again = false;
    let stopped = false;
    const read = async (): Promise<void> => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          for (;;) {
            const rows = await ctx.asTenant((db) => listTenantEvents(db, ctx.principal.tenantId, cursor, PAGE, filter));
            for (const row of rows) {
              if (stopped) return;
              cursor = row.id;
              await push(row);
            }
            if (rows.length < PAGE) break;
          }
        } while (again && !stopped);
      } catch (error) {
        stop(error);
      } finally {
        reading = false;
      }
    };
    void stop.then(() => {
      stopped = true;
      void signals.return?.();
    });
    void read();
    for await (const _ of signals) void read();
    await stop;
  });
}
