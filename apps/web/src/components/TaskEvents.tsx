import { useQuery } from 'urql';
import { TaskEventsQuery } from '../documents';
import type { ResultOf } from '../graphql';
import { ErrorState, label, StatusBadge, Time } from './ui';

type EventNode = NonNullable<
  NonNullable<NonNullable<NonNullable<ResultOf<typeof TaskEventsQuery>['task']>['events']>['edges']>[number]
>['node'];

export function EventItems({ events }: { events: NonNullable<EventNode>[] }) {
  return (
    <>
      {events.map((e) => (
        <li key={e.id}>
          <StatusBadge status={e.status} />
          <span className="source" title="What caused this change">
            {e.source ? label(e.source) : '—'}
          </span>
          <Time value={e.occurredAt} />
          {e.message ? <p className="event-message">{e.message}</p> : null}
        </li>
      ))}
    </>
  );
}

/** One more page of the timeline, after `after`; the last one offers the next. */
export function EventsPage({
  id,
  after,
  last,
  onMore,
}: {
  id: string;
  after: string;
  last: boolean;
  onMore(after: string): void;
}) {
  const [{ data, error }] = useQuery({ query: TaskEventsQuery, variables: { id, after } });
  const connection = data?.task?.events;
  const events = (connection?.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
  const next = connection?.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
  return (
    <>
      <EventItems events={events} />
      {error ? (
        <li>
          <ErrorState error={error} title="More events could not be loaded" />
        </li>
      ) : null}
      {last && next ? (
        <li>
          <button type="button" className="button subtle" onClick={() => onMore(next)}>
            Load more events
          </button>
        </li>
      ) : null}
    </>
  );
}
