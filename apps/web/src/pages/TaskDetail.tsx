import { useEffect, useRef, useState } from 'react';
import type { ResultOf } from '../graphql';
import { useMutation, useQuery, useSubscription } from 'urql';
import {
  CancelTaskMutation,
  RefreshTaskMutation,
  TaskDetailUpdated,
  TaskEventsQuery,
  TaskQuery,
  type TaskDetail,
} from '../documents';
import { href } from '../router';
import { formatBytes } from '../format';
import {
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

export function TaskPage({ id }: { id: string }) {
  const [result, reexecute] = useQuery({ query: TaskQuery, variables: { id }, requestPolicy: 'cache-and-network' });
  const fetched = result.data?.task ?? null;
  const [sub] = useSubscription({
    query: TaskDetailUpdated,
    variables: { id },
    pause: !fetched || isFinal(fetched.status),
  });
  const live = sub.data?.taskUpdated ?? null;
  const task: TaskDetail | null =
    live && fetched && (live.updatedAt ?? '') > (fetched.updatedAt ?? '') ? live : fetched;

  // A new status means new events: read the timeline again.
  const lastStatus = useRef<string | null | undefined>(undefined);
  useEffect(() => {
    if (!live) return;
    if (lastStatus.current !== undefined && lastStatus.current !== live.status)
      reexecute({ requestPolicy: 'network-only' });
    lastStatus.current = live.status;
  }, [live, reexecute]);

  const [moreCursors, setMoreCursors] = useState<string[]>([]);
  const [cancelState, cancel] = useMutation(CancelTaskMutation);
  const [refreshState, refresh] = useMutation(RefreshTaskMutation);
  const actionError = cancelState.error ?? refreshState.error;

  if (result.error && !result.data) {
    return (
      <>
        <PageTitle>Task</PageTitle>
        <ErrorState
          error={result.error}
          title="The task could not be loaded"
          retry={() => reexecute({ requestPolicy: 'network-only' })}
        />
      </>
    );
  }
  if (!result.data) {
    return (
      <>
        <PageTitle>Task</PageTitle>
        <p aria-busy="true">Loading the task…</p>
      </>
    );
  }
  if (!task) {
    return (
      <>
        <PageTitle>Task not found</PageTitle>
        <EmptyState title="There is no task with this id in your tenant.">
          <a href={href.tasks()}>Back to the tasks</a>
        </EmptyState>
      </>
    );
  }

  const running = !isFinal(task.status);
  const events = (result.data.task?.events?.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
  const firstPage = result.data.task?.events?.pageInfo;
  const firstNext = firstPage?.hasNextPage ? firstPage.endCursor : null;
  return (
    <>
      <p className="crumbs">
        <a href={href.tasks()}>Tasks</a> <span aria-hidden="true">/</span> <span>{shortId(task.id)}</span>
      </p>
      <PageTitle
        actions={
          <>
            <button
              type="button"
              className="button subtle"
              disabled={refreshState.fetching}
              onClick={() => void refresh({ id: task.id })}
            >
              {refreshState.fetching ? 'Refreshing…' : 'Refresh from provider'}
            </button>
            {running ? (
              <button
                type="button"
                className="button danger"
                disabled={cancelState.fetching}
                onClick={() => {
                  if (
                    window.confirm(
                      'Cancel this task? The provider may still finish it upstream, but Clipwire stops following it.',
                    )
                  )
                    void cancel({ id: task.id });
                }}
              >
                Cancel task
              </button>
            ) : null}
          </>
        }
      >
        Task <span className="mono">{shortId(task.id)}</span> <StatusBadge status={task.status} />
      </PageTitle>
      {actionError ? <ErrorState error={actionError} title="The action failed" /> : null}
      <div className="live-status" role="status" aria-live="polite">
        {running ? (
          <div className="progress-line">
            <Progress value={task.progress} label="Task progress" />
            <span>
              {label(task.status ?? 'PENDING')}
              {task.progress != null ? ` · ${Math.round(task.progress * 100)}%` : ''}
              {task.statusMessage ? ` · ${task.statusMessage}` : ''}
            </span>
          </div>
        ) : (
          <span className="sr-only">Task {label(task.status ?? '')}</span>
        )}
      </div>

      <div className="detail-grid">
        <section className="card" aria-labelledby="summary-h">
          <h2 id="summary-h">Summary</h2>
          <dl className="facts">
            <dt>Capability</dt>
            <dd>{task.kind ? (KIND_LABEL[task.kind] ?? task.kind) : '—'}</dd>
            <dt>Provider</dt>
            <dd>{task.provider ? (PROVIDER_LABEL[task.provider] ?? task.provider) : '—'}</dd>
            <dt>Model</dt>
            <dd className="mono">{task.model ?? '—'}</dd>
            <dt>Task id</dt>
            <dd className="mono break">{task.id}</dd>
            <dt>External id</dt>
            <dd className="mono break">{task.externalTaskId ?? '—'}</dd>
            <dt>Provider task id</dt>
            <dd className="mono break">{task.providerTaskId ?? '—'}</dd>
            <dt>Status message</dt>
            <dd>{task.statusMessage ?? '—'}</dd>
            <dt>Cost</dt>
            <dd>{task.cost?.units != null ? `${task.cost.units} units` : '—'}</dd>
            <dt>Created</dt>
            <dd>
              <Time value={task.createdAt} />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time value={task.updatedAt} />
            </dd>
            <dt>Completed</dt>
            <dd>
              <Time value={task.completedAt} />
            </dd>
          </dl>
        </section>

        <section className="card" aria-labelledby="timeline-h">
          <h2 id="timeline-h">Timeline</h2>
          {events.length === 0 ? (
            <p className="muted">No events yet.</p>
          ) : (
            <ol className="timeline">
              <EventItems events={events} />
              {moreCursors.map((after, i) => (
                <EventsPage
                  key={after}
                  id={task.id}
                  after={after}
                  last={i === moreCursors.length - 1}
                  onMore={(c) => setMoreCursors((m) => (m.includes(c) ? m : [...m, c]))}
                />
              ))}
            </ol>
          )}
          {firstNext && moreCursors.length === 0 ? (
            <button type="button" className="button subtle" onClick={() => setMoreCursors([firstNext])}>
              Load more events
            </button>
          ) : null}
        </section>
      </div>

      {task.error ? (
        <section className="card error-card" aria-labelledby="error-h">
          <h2 id="error-h">Error</h2>
          <dl className="facts">
            <dt>Code</dt>
            <dd className="mono">{task.error.code ?? '—'}</dd>
            <dt>Provider code</dt>
            <dd className="mono">{task.error.providerCode ?? '—'}</dd>
            <dt>Message</dt>
            <dd>{task.error.message ?? '—'}</dd>
          </dl>
        </section>
      ) : null}

      <section className="card" aria-labelledby="outputs-h">
        <h2 id="outputs-h">Outputs</h2>
        <Outputs task={task} />
      </section>

      <section className="card" aria-labelledby="input-h">
        <h2 id="input-h">Input</h2>
        <InputView input={task.input} />
      </section>
    </>
  );
}

function Outputs({ task }: { task: TaskDetail }) {
  const videos = task.videos ?? [];
  const audios = task.audios ?? [];
  if (videos.length === 0 && audios.length === 0) {
    return (
      <p className="muted">
        {isFinal(task.status) ? 'This task produced no media.' : 'The outputs appear here when the task succeeds.'}
      </p>
    );
  }
  return (
    <div className="outputs">
      {videos.map((v, i) => (
        <figure key={v.id ?? i} className="media">
          {v.url ? <video controls preload="metadata" src={v.url} aria-label={`Output video ${i + 1}`} /> : null}
          <figcaption>
            Video {i + 1}
            {v.durationSeconds != null ? ` · ${v.durationSeconds.toFixed(1)} s` : ''}
            {v.url ? (
              <>
                {' · '}
                <a href={v.url} target="_blank" rel="noreferrer">
                  Open
                </a>
              </>
            ) : null}
            {v.watermarkUrl ? (
              <>
                {' · '}
                <a href={v.watermarkUrl} target="_blank" rel="noreferrer">
                  Watermarked
                </a>
              </>
            ) : null}
          </figcaption>
        </figure>
      ))}
      {audios.map((a, i) => (
        <figure key={a.id ?? i} className="media">
          {a.mp3Url ? (
            <audio controls preload="metadata" src={a.mp3Url} aria-label={`Output audio ${i + 1} (mp3)`} />
          ) : null}
          {a.wavUrl ? (
            <audio controls preload="metadata" src={a.wavUrl} aria-label={`Output audio ${i + 1} (wav)`} />
          ) : null}
          <figcaption>
            Audio {i + 1}
            {a.mp3DurationSeconds != null ? ` · ${a.mp3DurationSeconds.toFixed(1)} s` : ''}
            {a.mp3Url ? (
              <>
                {' · '}
                <a href={a.mp3Url} target="_blank" rel="noreferrer">
                  mp3
                </a>
              </>
            ) : null}
            {a.wavUrl ? (
              <>
                {' · '}
                <a href={a.wavUrl} target="_blank" rel="noreferrer">
                  wav
                </a>
              </>
            ) : null}
          </figcaption>
        </figure>
      ))}
    </div>
  );
}

interface UrlRef {
  path: string;
  url: string;
}

function findUrls(value: unknown, path: string, out: UrlRef[]): UrlRef[] {
  if (typeof value === 'string' && /^https?:\/\//i.test(value)) out.push({ path, url: value });
  else if (Array.isArray(value)) value.forEach((v, i) => findUrls(v, `${path}[${i}]`, out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) findUrls(v, path ? `${path}.${k}` : k, out);
  return out;
}

function mediaKind(ref: UrlRef): 'image' | 'audio' | 'video' | null {
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(new URL(ref.url).pathname)?.[1]?.toLowerCase();
  if (ext && ['png', 'jpg', 'jpeg', 'webp', 'gif'].includes(ext)) return 'image';
  if (ext && ['mp3', 'wav', 'm4a', 'aac', 'ogg'].includes(ext)) return 'audio';
  if (ext && ['mp4', 'mov', 'webm'].includes(ext)) return 'video';
  if (/webhook/i.test(ref.path)) return null;
  if (/image/i.test(ref.path)) return 'image';
  if (/audio/i.test(ref.path)) return 'audio';
  if (/video/i.test(ref.path)) return 'video';
  return null;
}

function InputView({ input }: { input: unknown }) {
  const [raw, setRaw] = useState(false);
  const urls = findUrls(input, '', []).flatMap((ref) => {
    try {
      const kind = mediaKind(ref);
      return kind ? [{ ...ref, kind }] : [];
    } catch {
      return [];
    }
  });
  return (
    <>
      {urls.length > 0 ? (
        <div className="outputs">
          {urls.map((u) => (
            <figure key={u.path} className="media">
              {u.kind === 'image' ? <img src={u.url} alt={`Input ${u.path}`} loading="lazy" /> : null}
              {u.kind === 'audio' ? <audio controls preload="none" src={u.url} aria-label={`Input ${u.path}`} /> : null}
              {u.kind === 'video' ? <video controls preload="none" src={u.url} aria-label={`Input ${u.path}`} /> : null}
              <figcaption className="mono break">{u.path}</figcaption>
            </figure>
          ))}
        </div>
      ) : null}
      <InputFacts input={input} />
      <button type="button" className="button subtle" aria-expanded={raw} onClick={() => setRaw((r) => !r)}>
        {raw ? 'Hide JSON' : 'Show JSON'}
      </button>
      {raw ? <pre className="json">{JSON.stringify(input, null, 2)}</pre> : null}
    </>
  );
}

/** The normalized input as a readable list: nested keys become dotted names. */
function InputFacts({ input }: { input: unknown }) {
  const rows: [string, string][] = [];
  const walk = (v: unknown, path: string) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object' && !Array.isArray(v)) {
      const entries = Object.entries(v as Record<string, unknown>);
      const file = v as { name?: unknown; size?: unknown; type?: unknown };
      if (path.endsWith('file') && typeof file.size === 'number') {
        rows.push([
          path,
          `uploaded ${typeof file.name === 'string' ? file.name : 'file'} · ${formatBytes(file.size)}${typeof file.type === 'string' ? ` · ${file.type}` : ''}`,
        ]);
        return;
      }
      for (const [k, val] of entries) walk(val, path ? `${path}.${k}` : k);
      return;
    }
    rows.push([path, typeof v === 'string' ? v : JSON.stringify(v)]);
  };
  walk(input, '');
  if (rows.length === 0) return <p className="muted">No input recorded.</p>;
  return (
    <dl className="facts input-facts">
      {rows.map(([k, v]) => (
        <div key={k} className="fact-row">
          <dt className="mono">{k}</dt>
          <dd className="break">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

type EventNode = NonNullable<
  NonNullable<NonNullable<NonNullable<ResultOf<typeof TaskEventsQuery>['task']>['events']>['edges']>[number]
>['node'];

function EventItems({ events }: { events: NonNullable<EventNode>[] }) {
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
function EventsPage({
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
