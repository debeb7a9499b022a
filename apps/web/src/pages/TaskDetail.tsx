import { useEffect, useRef, useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { CancelTaskMutation, RefreshTaskMutation, TaskDetailUpdated, TaskQuery, type TaskDetail } from '../documents';
import { href } from '../router';
import { EventItems, EventsPage } from '../components/TaskEvents';
import { TaskRoute } from '../components/TaskRoute';
import { InputView } from '../components/TaskInput';
import { Outputs } from '../components/TaskOutputs';
import {
  CopyableId,
  EmptyState,
  ErrorState,
  isFinal,
  kindLabel,
  label,
  PageTitle,
  Progress,
  providerLabel,
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
            {running ? (
              <button
                type="button"
                className="button subtle"
                disabled={refreshState.fetching}
                onClick={() => void refresh({ id: task.id })}
              >
                {refreshState.fetching ? 'Refreshing…' : 'Refresh from provider'}
              </button>
            ) : null}
            <a className="button subtle" href={href.newTask(task.id)}>
              Run again
            </a>
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
            <dd>{kindLabel(task.kind)}</dd>
            <dt>Provider</dt>
            <dd>{providerLabel(task.provider)}</dd>
            <dt>Model</dt>
            <dd className="mono">{task.model ?? '—'}</dd>
            <dt>Task id</dt>
            <dd>
              <CopyableId value={task.id} label="task id" />
            </dd>
            <dt>External id</dt>
            <dd>{task.externalTaskId ? <CopyableId value={task.externalTaskId} label="external id" /> : '—'}</dd>
            <dt>Provider task id</dt>
            <dd>{task.providerTaskId ? <CopyableId value={task.providerTaskId} label="provider task id" /> : '—'}</dd>
            <dt>Status message</dt>
            <dd>{task.statusMessage ?? '—'}</dd>
            <dt>Cost</dt>
            <dd>
              {task.cost?.units != null
                ? `${task.cost.units} ${Number(task.cost.units) === 1 ? 'unit' : 'units'}`
                : '—'}
            </dd>
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

      <TaskRoute attempts={task.attempts} route={task.route} />

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
        <InputView input={task.input} media={result.data.task?.inputMedia ?? []} />
      </section>
    </>
  );
}
