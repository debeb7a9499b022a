import { useId, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { TaskByExternalIdQuery } from '../documents';
import { href, navigate } from '../router';
import { describeError } from './ui';

/** Finds a task by its external id and opens it. */
export function ExternalIdSearch() {
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
