import { useQuery } from 'urql';
import { TaskEventsQuery } from '../documents';
import type { ResultOf } from '../graphql';
import { ErrorState, label, StatusBadge, Time } from './ui';

type EventNode = NonNullable<
  NonNullable<NonNullable<NonNullable<ResultOf<typeof TaskEventsQuery>['task']>['events']>['edges']>[number]
>['node'];

/**
 * Events that are not a status change (their `status` is the task's, unchanged): what they name instead,
 * and the badge class it is shown with. (ROUTED: the task moved to the next provider of its route.)
 */
const OTHER_EVENTS: Record<string, { text: string; className: string }> = {
  OUTPUTS_ARCHIVED: { text: 'Outputs archived', className: 'event-archived' },
  OUTPUTS_ARCHIVE_FAILED: { text: 'Outputs not archived', className: 'event-archive-failed' },
  ROUTED: { text: 'Next provider', className: 'event-routed' },
};

/** A status change's new status, or what another event is. */
function EventBadge({ type, status }: { type: string | null | undefined; status: string | null | undefined }) {
  const other = type ? OTHER_EVENTS[type] : undefined;
  if (!other) return <StatusBadge status={status} />;
  return (
    <span className={`badge ${other.className}`} data-event-type={type}>
      {other.text}
    </span>
  );
}

export function EventItems({ events }: { events: NonNullable<EventNode>[] }) {
  return (
    <>
      {events.map((e) => (
        <li key={e.id} data-event-type={e.type ?? undefined}>
          <EventBadge type={e.type} status={e.status} />
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
