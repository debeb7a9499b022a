import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { GRAPHQL_PATH } from '../api';
import type { ConsoleConfig } from '../session';

/** Checks a key against the API before keeping it. */
async function checkKey(key: string): Promise<'ok' | 'rejected' | 'unreachable'> {
  try {
    const res = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    if (res.status === 401 || res.status === 403) return 'rejected';
    return res.ok ? 'ok' : 'unreachable';
  } catch {
    return 'unreachable';
  }
}

export function SignIn({
  config,
  notice,
  onSignedIn,
}: {
  config: ConsoleConfig | null | undefined;
  notice: string | null;
  onSignedIn(key: string): void;
}) {
  const [key, setKey] = useState('');
  const [reveal, setReveal] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const prefilled = useRef(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const id = useId();

  useEffect(() => {
    if (!prefilled.current && config?.sandboxApiKey) {
      prefilled.current = true;
      setKey((k) => k || config.sandboxApiKey!);
    }
  }, [config]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError('Enter an API key.');
      inputRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const verdict = await checkKey(trimmed);
    setBusy(false);
    if (verdict === 'ok') return onSignedIn(trimmed);
    setError(
      verdict === 'rejected' ? 'This key was not accepted.' : 'The API cannot be reached. Check that it is running.',
    );
    inputRef.current?.focus();
  }

  const sandboxFilled = Boolean(config?.sandboxApiKey) && key === config?.sandboxApiKey;
  return (
    <main id="main" className="signin">
      <form className="card signin-card" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
        <p className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{' '}
          Clipwire
        </p>
        <h1 id={`${id}-title`}>Sign in to the console</h1>
        {notice ? (
          <p className="callout warn" role="status">
            {notice}
          </p>
        ) : null}
        <div className="field">
          <label htmlFor={`${id}-key`}>API key</label>
          <div className="input-row">
            <input
              ref={inputRef}
              id={`${id}-key`}
              name="apiKey"
              type={reveal ? 'text' : 'password'}
              autoComplete="off"
              spellCheck={false}
              value={key}
              onChange={(e) => setKey(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={`${id}-hint${error ? ` ${id}-error` : ''}`}
              required
            />
            <button type="button" className="button subtle" onClick={() => setReveal((r) => !r)} aria-pressed={reveal}>
              {reveal ? 'Hide' : 'Show'}
            </button>
          </div>
          <p id={`${id}-hint`} className="hint">
            {sandboxFilled
              ? 'Sandbox mode: the key of this machine’s sandbox tenant is filled in.'
              : 'The key stays in this browser (local storage) and is sent only to this API.'}
          </p>
          {error ? (
            <p id={`${id}-error`} className="field-error" role="alert">
              {error}
            </p>
          ) : null}
        </div>
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {config ? (
          <p className="hint">Mode: {config.mode === 'SANDBOX' ? 'Sandbox (simulated providers)' : 'Live'}</p>
        ) : null}
      </form>
    </main>
  );
}
