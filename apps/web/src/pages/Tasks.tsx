import { useCallback, useEffect, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { type TaskRow, TasksQuery } from '../documents';
import { useTaskFeed } from '../feed';
import { href, replaceRoute } from '../router';
import { clearFlash, peekFlash } from '../flash';
import { ExternalIdSearch } from '../components/ExternalIdSearch';
import {
  activeFilters,
  type FilterState,
  filtersFromQuery,
  filtersToQuery,
  TaskFilters,
  toFeedFilter,
  toFilter,
} from '../components/TaskFilters';
import { LiveTaskRow } from '../components/TaskRow';
import { EmptyState, ErrorState, PageTitle } from '../components/ui';

const PAGE_SIZE = 25;
/** Within this many pixels of the top, new tasks go straight into the list; further down they wait behind a button. */
const NEAR_TOP_PX = 120;

type Filter = ReturnType<typeof toFilter>;

/** Whether a task the feed brought belongs in this view (the feed itself filters kinds and providers only). */
function matches(f: FilterState, filter: Filter, task: TaskRow): boolean {
  if (f.statuses.length && !f.statuses.includes(task.status as never)) return false;
  const created = task.createdAt ?? '';
  if (filter?.createdFrom && created < new Date(filter.createdFrom).toISOString()) return false;
  if (filter?.createdTo && created >= new Date(filter.createdTo).toISOString()) return false;
  if (f.externalPrefix && !(task.externalTaskId ?? '').startsWith(f.externalPrefix)) return false;
  return true;
}

/**
 * The task list, live: one subscription to the tenant's feed updates every row in place and brings
 * tasks created elsewhere (the API, another tab) to the top — or, when the user has scrolled down,
 * behind an "n new tasks" button. Filters and search live in the URL.
 */
export function TasksPage({ query }: { query: URLSearchParams }) {
  // The URL holds the filters (a reload or a shared link shows the same view); a change shows at once
  // and is written to the URL, and the URL's own changes (Back, an edited link) are followed.
  const [filters, setShown] = useState(() => filtersFromQuery(query));
  const latest = useRef(filters);
  const queryKey = query.toString();
  // biome-ignore lint/correctness/useExhaustiveDependencies: followed by value (queryKey)
  useEffect(() => {
    const fromUrl = filtersFromQuery(query);
    if (filtersToQuery(fromUrl).toString() === filtersToQuery(latest.current).toString()) return;
    latest.current = fromUrl;
    setShown(fromUrl);
  }, [queryKey]);
  const setFilters = (patch: Partial<FilterState>) => {
    const next = { ...latest.current, ...patch };
    latest.current = next;
    setShown(next);
    replaceRoute(href.tasks(filtersToQuery(next)));
  };
  const filter = toFilter(filters);
  const filterKey = JSON.stringify(filter);
  const active = activeFilters(filters);

  // Each page of the cursor connection is its own query; the list grows as the user scrolls.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [generation, setGeneration] = useState(0);
  // The feed's latest version of each task; tasks newer than the first page, shown or waiting.
  const [updates, setUpdates] = useState<ReadonlyMap<string, TaskRow>>(new Map());
  const [live, setLive] = useState<{ fresh: TaskRow[]; waiting: TaskRow[] }>({ fresh: [], waiting: [] });
  const { fresh, waiting } = live;
  // How many tasks match, as the first page counted them; the feed's additions are added to it.
  const [total, setTotal] = useState<number | null>(null);
  // The newest task of the first page (null: the list was empty), undefined until it has loaded.
  const top = useRef<string | null | undefined>(undefined);
  const early = useRef<TaskRow[]>([]);
  const view = useRef({ filters, filter });
  view.current = { filters, filter };

  const place = useCallback((task: TaskRow) => {
    const newest = top.current;
    if (newest === undefined) {
      early.current.push(task);
      return;
    }
    if (newest !== null && (task.createdAt ?? '') <= newest) return; // an update to a row of the pages
    if (!matches(view.current.filters, view.current.filter, task)) return;
    const nearTop = window.scrollY < NEAR_TOP_PX;
    // A task already placed stays where it is (its row shows the feed's latest version of it).
    setLive((live) => {
      if ([...live.fresh, ...live.waiting].some((t) => t.id === task.id)) return live;
      return nearTop ? { ...live, fresh: [task, ...live.fresh] } : { ...live, waiting: [task, ...live.waiting] };
    });
  }, []);

  const feed = useTaskFeed(toFeedFilter(filters), (task) => {
    setUpdates((map) => new Map(map).set(task.id, task));
    place(task);
  });

  const restart = useCallback(() => {
    top.current = undefined;
    early.current = [];
    setLive({ fresh: [], waiting: [] });
    setTotal(null);
    setCursors([null]);
  }, []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new filter (by value) restarts the pages
  useEffect(restart, [filterKey, restart]);
  const onTop = useCallback(
    (newest: string | null) => {
      top.current = newest;
      const queued = early.current;
      early.current = [];
      for (const task of queued) place(task);
    },
    [place],
  );
  const showWaiting = () => {
    setLive((live) => ({ fresh: [...live.waiting, ...live.fresh], waiting: [] }));
    window.scrollTo({ top: 0 });
  };

  const [flash] = useState(peekFlash);
  useEffect(() => clearFlash(), []);

  const loadMore = useCallback((after: string) => setCursors((c) => (c.includes(after) ? c : [...c, after])), []);
  const refresh = () => {
    restart();
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
        <ExternalIdSearch
          value={filters.externalPrefix}
          onSearch={(externalPrefix) => setFilters({ externalPrefix })}
        />
        <TaskFilters value={filters} onChange={setFilters} />
      </div>
      {waiting.length ? (
        <button type="button" className="button new-tasks" onClick={showWaiting}>
          {waiting.length === 1 ? '1 new task' : `${waiting.length} new tasks`} — show
        </button>
      ) : null}
      {feed.error ? (
        <p className="muted small" role="status">
          Live updates paused: {feed.error}
        </p>
      ) : null}
      {total !== null && total + fresh.length + waiting.length > 0 ? (
        <p className="list-count muted small" data-total={total + fresh.length + waiting.length}>
          {total + fresh.length + waiting.length === 1 ? '1 task' : `${total + fresh.length + waiting.length} tasks`}
          {active > 0 ? ' match the filters' : ''}
        </p>
      ) : null}
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
          {fresh.length ? (
            <tbody className="fresh">
              {fresh.map((task) => (
                <LiveTaskRow key={task.id} task={task} update={updates.get(task.id)} feedError={feed.error} />
              ))}
            </tbody>
          ) : null}
          {feed.ready
            ? cursors.map((after, i) => (
                <TaskPageRows
                  key={`${generation}:${filterKey}:${after ?? 'first'}`}
                  after={after}
                  filter={filter}
                  first={i === 0}
                  last={i === cursors.length - 1}
                  filtered={active > 0}
                  extra={fresh.length + waiting.length}
                  updates={updates}
                  feedError={feed.error}
                  onTop={onTop}
                  onTotal={setTotal}
                  onLoadMore={loadMore}
                />
              ))
            : null}
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
  extra,
  updates,
  feedError,
  onTop,
  onTotal,
  onLoadMore,
}: {
  after: string | null;
  filter: Filter;
  first: boolean;
  last: boolean;
  filtered: boolean;
  /** Tasks the feed added above the pages. */
  extra: number;
  updates: ReadonlyMap<string, TaskRow>;
  feedError: string | null;
  onTop(newest: string | null): void;
  onTotal(total: number): void;
  onLoadMore(after: string): void;
}) {
  const [result, reexecute] = useQuery({
    query: TasksQuery,
    variables: { first: PAGE_SIZE, after, filter, count: first },
    requestPolicy: first ? 'network-only' : 'cache-first',
  });
  const { data, fetching, error } = result;
  const connection = data?.tasks;
  const rows = (connection?.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
  const next = connection?.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
  const newest = data ? (rows[0]?.createdAt ?? null) : undefined;
  useEffect(() => {
    if (first && newest !== undefined) onTop(newest);
  }, [first, newest, onTop]);
  const total = connection?.totalCount;
  useEffect(() => {
    if (first && total != null) onTotal(total);
  }, [first, total, onTotal]);

  return (
    <tbody>
      {rows.map((task) => (
        <LiveTaskRow key={task.id} task={task} update={updates.get(task.id)} feedError={feedError} />
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
      {first && data && rows.length === 0 && extra === 0 ? (
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
      {last && data && !next && (rows.length > 0 || !first) ? (
        <tr className="state-row end-row">
          <td colSpan={6} className="muted small">
            End of the list.
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
