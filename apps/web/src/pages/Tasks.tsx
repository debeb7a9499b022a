import { useCallback, useEffect, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { TasksQuery } from '../documents';
import { href } from '../router';
import { clearFlash, peekFlash } from '../flash';
import { ExternalIdSearch } from '../components/ExternalIdSearch';
import { activeFilters, type FilterState, NO_FILTERS, TaskFilters, toFilter } from '../components/TaskFilters';
import { LiveTaskRow } from '../components/TaskRow';
import { EmptyState, ErrorState, PageTitle } from '../components/ui';

const PAGE_SIZE = 25;

type Filter = ReturnType<typeof toFilter>;

export function TasksPage() {
  const [filters, setFilters] = useState<FilterState>(NO_FILTERS);
  // Each page of the cursor connection is its own query; the list grows as the user scrolls.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [generation, setGeneration] = useState(0);
  const filter = toFilter(filters);
  const filterKey = JSON.stringify(filter);
  const active = activeFilters(filters);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new filter (by value) restarts the pages
  useEffect(() => setCursors([null]), [filterKey]);
  const [flash] = useState(peekFlash);
  useEffect(() => clearFlash(), []);

  const loadMore = useCallback((after: string) => setCursors((c) => (c.includes(after) ? c : [...c, after])), []);
  const refresh = () => {
    setCursors([null]);
    setGeneration((g) => g + 1);
  };

  return (
    <>
      <PageTitle
        actions={
          <>
            <button type="button" className="button subtle" onClick={refresh}>
              Refresh
            </button>
            <a className="button primary" href={href.newTask()}>
              New task
            </a>
          </>
        }
      >
        Tasks
      </PageTitle>
      {flash ? (
        <div className="callout success" role="status">
          {flash.text}
          {flash.taskId ? (
            <>
              {' '}
              <a href={href.task(flash.taskId)}>Open it</a>
            </>
          ) : null}
        </div>
      ) : null}
      <div className="toolbar">
        <ExternalIdSearch />
        <TaskFilters value={filters} onChange={setFilters} />
      </div>
      <div className="table-wrap">
        <table className="tasks">
          <caption className="sr-only">Tasks, newest first. Statuses update live.</caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Status</th>
              <th scope="col">Capability</th>
              <th scope="col">Provider</th>
              <th scope="col">External id</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          {cursors.map((after, i) => (
            <TaskPageRows
              key={`${generation}:${filterKey}:${after ?? 'first'}`}
              after={after}
              filter={filter}
              first={i === 0}
              last={i === cursors.length - 1}
              filtered={active > 0}
              onLoadMore={loadMore}
            />
          ))}
        </table>
      </div>
    </>
  );
}

function TaskPageRows({
  after,
  filter,
  first,
  last,
  filtered,
  onLoadMore,
}: {
  after: string | null;
  filter: Filter;
  first: boolean;
  last: boolean;
  filtered: boolean;
  onLoadMore(after: string): void;
}) {
  const [result, reexecute] = useQuery({
    query: TasksQuery,
    variables: { first: PAGE_SIZE, after, filter },
    requestPolicy: first ? 'cache-and-network' : 'cache-first',
  });
  const { data, fetching, error } = result;
  const connection = data?.tasks;
  const rows = (connection?.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
  const next = connection?.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;

  return (
    <tbody>
      {rows.map((task) => (
        <LiveTaskRow key={task.id} task={task} />
      ))}
      {error && !data ? (
        <tr className="state-row">
          <td colSpan={6}>
            <ErrorState
              error={error}
              title="The tasks could not be loaded"
              retry={() => reexecute({ requestPolicy: 'network-only' })}
            />
          </td>
        </tr>
      ) : null}
      {fetching && !data ? (
        <tr className="state-row">
          <td colSpan={6} aria-busy="true">
            Loading tasks…
          </td>
        </tr>
      ) : null}
      {first && data && rows.length === 0 ? (
        <tr className="state-row">
          <td colSpan={6}>
            {filtered ? (
              <EmptyState title="No tasks match these filters." />
            ) : (
              <EmptyState title="No tasks yet.">
                <a className="button primary" href={href.newTask()}>
                  Create your first task
                </a>
              </EmptyState>
            )}
          </td>
        </tr>
      ) : null}
      {last && next ? (
        <tr className="state-row">
          <td colSpan={6}>
            <LoadMore onLoad={() => onLoadMore(next)} />
          </td>
        </tr>
      ) : null}
    </tbody>
  );
}

/** Loads the next page when it scrolls into view; also a button, for keyboards. */
function LoadMore({ onLoad }: { onLoad(): void }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && onLoad(), {
      rootMargin: '200px',
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [onLoad]);
  return (
    <button ref={ref} type="button" className="button subtle load-more" onClick={onLoad}>
      Load more tasks
    </button>
  );
}
