import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { PROVIDERS, type Provider, TASK_KINDS, TASK_STATUSES, type TaskKind, type TaskStatus } from '@clipwire/schema';
import { useClient, useQuery, useSubscription } from 'urql';
import { TaskByExternalIdQuery, TaskRowUpdated, TasksQuery, type TaskRow } from '../documents';
import type { VariablesOf } from '../graphql';
import { href, navigate } from '../router';
import { clearFlash, peekFlash } from '../flash';
import {
  describeError,
  EmptyState,
  ErrorState,
  isFinal,
  KIND_LABEL,
  label,
  PageTitle,
  Progress,
  PROVIDER_LABEL,
  shortId,
  StatusBadge,
  Time,
} from '../components/ui';

const PAGE_SIZE = 25;

type Filter = NonNullable<VariablesOf<typeof TasksQuery>['filter']>;
interface FilterState {
  statuses: TaskStatus[];
  kinds: TaskKind[];
  providers: Provider[];
}

function toFilter(f: FilterState): Filter | null {
  const filter: Filter = {};
  if (f.statuses.length) filter.statuses = f.statuses;
  if (f.kinds.length) filter.kinds = f.kinds;
  if (f.providers.length) filter.providers = f.providers;
  return Object.keys(filter).length ? filter : null;
}

export function TasksPage() {
  const [filters, setFilters] = useState<FilterState>({ statuses: [], kinds: [], providers: [] });
  // Each page of the cursor connection is its own query; the list grows as the user scrolls.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [generation, setGeneration] = useState(0);
  const filter = toFilter(filters);
  const filterKey = JSON.stringify(filter);
  const active = filters.statuses.length + filters.kinds.length + filters.providers.length;

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
        <details className="filters" open={active > 0 ? true : undefined}>
          <summary>Filters{active ? <span className="count"> ({active} on)</span> : null}</summary>
          <div className="filter-groups">
            <CheckGroup
              legend="Status"
              options={TASK_STATUSES}
              labels={(s) => label(s)}
              value={filters.statuses}
              onChange={(statuses) => setFilters({ ...filters, statuses })}
            />
            <CheckGroup
              legend="Capability"
              options={TASK_KINDS}
              labels={(k) => KIND_LABEL[k] ?? k}
              value={filters.kinds}
              onChange={(kinds) => setFilters({ ...filters, kinds })}
            />
            <CheckGroup
              legend="Provider"
              options={PROVIDERS}
              labels={(p) => PROVIDER_LABEL[p] ?? p}
              value={filters.providers}
              onChange={(providers) => setFilters({ ...filters, providers })}
            />
            {active ? (
              <button
                type="button"
                className="button subtle"
                onClick={() => setFilters({ statuses: [], kinds: [], providers: [] })}
              >
                Clear filters
              </button>
            ) : null}
          </div>
        </details>
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
  filter: Filter | null;
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

/** One row; while the task is not final it follows `taskUpdated`, so its status changes in place. */
function LiveTaskRow({ task }: { task: TaskRow }) {
  const [{ data, error }] = useSubscription({
    query: TaskRowUpdated,
    variables: { id: task.id },
    pause: isFinal(task.status),
  });
  const live = data?.taskUpdated;
  const latest = live && newer(live, task) ? live : task;
  const running = !isFinal(latest.status);
  return (
    <tr data-task-id={latest.id} data-status={latest.status ?? undefined}>
      <td data-label="Task">
        <a
          href={href.task(latest.id)}
          className="mono"
          aria-label={`Task ${shortId(latest.id)}${latest.externalTaskId ? ` (${latest.externalTaskId})` : ''}`}
        >
          {shortId(latest.id)}
        </a>
      </td>
      <td data-label="Status">
        <div>
          <div className="status-cell">
            <StatusBadge status={latest.status} />
            {running && latest.progress != null ? (
              <Progress value={latest.progress} label={`Progress of task ${shortId(latest.id)}`} />
            ) : null}
            {error ? (
              <span className="muted small" title={describeError(error)}>
                (live updates paused)
              </span>
            ) : null}
          </div>
          {latest.statusMessage && latest.status === 'FAILED' ? (
            <div className="small muted clamp">{latest.statusMessage}</div>
          ) : null}
        </div>
      </td>
      <td data-label="Capability">{latest.kind ? (KIND_LABEL[latest.kind] ?? latest.kind) : '—'}</td>
      <td data-label="Provider">
        <div>
          {latest.provider ? (PROVIDER_LABEL[latest.provider] ?? latest.provider) : '—'}
          {latest.model ? <div className="small muted">{latest.model}</div> : null}
        </div>
      </td>
      <td data-label="External id" className="mono break">
        {latest.externalTaskId ?? <span className="muted">—</span>}
      </td>
      <td data-label="Created">
        <Time value={latest.createdAt} short />
      </td>
    </tr>
  );
}

function newer(a: TaskRow, b: TaskRow): boolean {
  return (a.updatedAt ?? '') >= (b.updatedAt ?? '');
}

function CheckGroup<T extends string>({
  legend,
  options,
  labels,
  value,
  onChange,
}: {
  legend: string;
  options: readonly T[];
  labels(v: T): string;
  value: T[];
  onChange(v: T[]): void;
}) {
  const id = useId();
  return (
    <fieldset className="check-group">
      <legend>{legend}</legend>
      {options.map((o) => (
        <label key={o} htmlFor={`${id}-${o}`} className="check">
          <input
            id={`${id}-${o}`}
            type="checkbox"
            checked={value.includes(o)}
            onChange={(e) => onChange(e.target.checked ? [...value, o] : value.filter((v) => v !== o))}
          />
          {labels(o)}
        </label>
      ))}
    </fieldset>
  );
}

function ExternalIdSearch() {
  const client = useClient();
  const [value, setValue] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const externalTaskId = value.trim();
    if (!externalTaskId) {
      setMessage('Enter an external task id.');
      return;
    }
    setBusy(true);
    setMessage(null);
    const result = await client
      .query(TaskByExternalIdQuery, { externalTaskId }, { requestPolicy: 'network-only' })
      .toPromise();
    setBusy(false);
    if (result.error) return setMessage(describeError(result.error));
    const task = result.data?.task;
    if (!task) return setMessage(`No task has the external id “${externalTaskId}”.`);
    navigate(href.task(task.id));
  }

  return (
    // biome-ignore lint/a11y/useSemanticElements: <search> is not yet in every browser the console supports
    <form className="search" role="search" onSubmit={submit} aria-label="Find a task by external id">
      <label htmlFor={`${id}-q`}>External task id</label>
      <div className="input-row">
        <input
          id={`${id}-q`}
          type="search"
          value={value}
          onChange={(e) => {
            setValue(e.target.value);
            setMessage(null);
          }}
          placeholder="e.g. order-1234"
          aria-describedby={message ? `${id}-msg` : undefined}
          spellCheck={false}
        />
        <button type="submit" className="button" disabled={busy}>
          Find
        </button>
      </div>
      {message ? (
        <p id={`${id}-msg`} className="field-error" role="status">
          {message}
        </p>
      ) : null}
    </form>
  );
}
