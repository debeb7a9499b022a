import type { Client as WsClient } from 'graphql-ws';
import { createContext, useContext, useEffect, useRef, useState } from 'react';
import { stringifyDocument, useClient } from 'urql';
import { LatestTaskEventCursorQuery, TaskFeedSubscription, type TaskRow } from './documents';
import type { ResultOf, VariablesOf } from './graphql';
import { describeError } from './components/ui';

export const WsClientContext = createContext<WsClient | null>(null);

type FeedFilter = VariablesOf<typeof TaskFeedSubscription>['filter'];

/**
 * Follows the tenant's feed (`taskEvents`) from its newest event at the time of the call and hands
 * each event's task to `onTask`, once per event, in order. `ready` turns true once the starting point
 * is read: a list loaded after that misses nothing, since every later change comes through the feed.
 * After a dropped connection the feed resumes after the last event seen — no gap, no repeat.
 */
export function useTaskFeed(
  filter: FeedFilter,
  onTask: (task: TaskRow) => void,
): { ready: boolean; error: string | null } {
  const client = useClient();
  const ws = useContext(WsClientContext);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onTaskRef = useRef(onTask);
  onTaskRef.current = onTask;
  const key = JSON.stringify(filter ?? null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter is followed by value (key)
  useEffect(() => {
    if (!ws) return;
    let stopped = false;
    let unsubscribe = () => {};
    setReady(false);
    setError(null);
    void (async () => {
      const start = await client.query(LatestTaskEventCursorQuery, {}, { requestPolicy: 'network-only' }).toPromise();
      if (stopped) return;
      if (start.error) {
        setError(describeError(start.error));
        return;
      }
      const seen = new Set<string>();
      // graphql-ws sends this same payload object again when it reconnects (client.subscribe keeps it):
      // moving `after` to the newest cursor seen makes the resumed feed start where this one stopped.
      const variables = { filter, after: start.data?.latestTaskEventCursor ?? null };
      unsubscribe = ws.subscribe<ResultOf<typeof TaskFeedSubscription>>(
        { query: stringifyDocument(TaskFeedSubscription), variables },
        {
          next: (result) => {
            const event = result.data?.taskEvents;
            if (!event?.cursor || seen.has(event.cursor)) return;
            seen.add(event.cursor);
            variables.after = event.cursor;
            setError(null);
            if (event.task) onTaskRef.current(event.task);
          },
          error: (e) => {
            if (!stopped) setError(e instanceof Error ? e.message : 'The live feed stopped.');
          },
          complete: () => {},
        },
      );
      setReady(true);
    })();
    return () => {
      stopped = true;
      unsubscribe();
    };
  }, [client, ws, key]);

  return { ready, error };
}
