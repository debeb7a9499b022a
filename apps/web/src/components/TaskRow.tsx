import type { TaskRow } from '../documents';
import { href } from '../router';
import { isFinal, kindLabel, Progress, providerLabel, shortId, StatusBadge, Time } from './ui';

/** One row: the task as its page loaded it, or the newer version the live feed brought (`update`). */
export function LiveTaskRow({
  task,
  update,
  feedError,
}: {
  task: TaskRow;
  update?: TaskRow;
  feedError?: string | null;
}) {
  const latest = update && newer(update, task) ? update : task;
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
            {feedError && running ? (
              <span className="muted small" title={feedError}>
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
