import { useSubscription } from 'urql';
import { TaskRowUpdated, type TaskRow } from '../documents';
import { href } from '../router';
import { describeError, isFinal, kindLabel, Progress, providerLabel, shortId, StatusBadge, Time } from './ui';

/** One row; while the task is not final it follows `taskUpdated`, so its status changes in place. */
export function LiveTaskRow({ task }: { task: TaskRow }) {
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
      <td data-label="Capability">{kindLabel(latest.kind)}</td>
      <td data-label="Provider">
        <div>
          {providerLabel(latest.provider)}
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
