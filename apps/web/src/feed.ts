import { type Clipwire, ClipwireError, type TaskRow } from '@clipwire/client';
import { createContext, useContext, useEffect, useRef, useState } from 'react';

export const ClipwireContext = createContext<Clipwire | null>(null);

type FeedFilter = Parameters<Clipwire['taskEvents']>[0] extends infer O
  ? O extends { filter?: infer F }
    ? F
    : never
  : never;

/**
 * Follows the tenant's feed (@clipwire/client's `taskEvents`) from its newest event at the time of
 * the call and hands each event's task to `onTask`, once per event, in order. `ready` turns true once
 * the starting point is read: a list loaded after that misses nothing, since every later change comes
 * through the feed. After a dropped connection the client resumes after the last event — no gap, no repeat.
 */
export function useTaskFeed(
  filter: FeedFilter | null,
  onTask: (task: TaskRow) => void,
): { ready: boolean; error: string | null } {
  const clipwire = useContext(ClipwireContext);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onTaskRef = useRef(onTask);
  onTaskRef.current = onTask;
  const key = JSON.stringify(filter ?? null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the filter is followed by value (key)
  useEffect(() => {
    if (!clipwire) return;
    const stop = new AbortController();
    setReady(false);
    setError(null);
    void (async () => {
      try {
        const after = await clipwire.latestTaskEventCursor({ signal: stop.signal });
        setReady(true);
        for await (const event of clipwire.taskEvents({
          after,
          ...(filter ? { filter } : {}),
          signal: stop.signal,
        })) {
          setError(null);
          if (event.task) onTaskRef.current(event.task);
        }
      } catch (e) {
        if (stop.signal.aborted) return;
        setReady(true); // the list still loads, without live updates
        setError(e instanceof ClipwireError || e instanceof Error ? e.message : 'The live feed stopped.');
      }
    })();
    return () => stop.abort();
  }, [clipwire, key]);

  return { ready, error };
}
