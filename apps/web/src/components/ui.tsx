import { useEffect, useRef, type ReactNode } from 'react';
import { type Provider, TASK_STATUSES, type TaskKind, TERMINAL_STATUSES } from '@clipwire/schema';
import type { CombinedError } from 'urql';
import type { TaskRow } from '../documents';
import { CopyButton } from './CopyButton';

export type TaskStatus = NonNullable<TaskRow['status']>;

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_STATUSES);
const KNOWN: ReadonlySet<string> = new Set(TASK_STATUSES);

export function isFinal(status: string | null | undefined): boolean {
  return status != null && TERMINAL.has(status);
}

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? 'UNKNOWN';
  return (
    <span className={`badge status-${s.toLowerCase()}`} data-status={s}>
      {KNOWN.has(s) && !TERMINAL.has(s) ? <span className="pulse" aria-hidden="true" /> : null}
      {label(s)}
    </span>
  );
}

export function label(value: string): string {
  return value
    .split('_')
    .map((w) => w.charAt(0) + w.slice(1).toLowerCase())
    .join(' ');
}

export const PROVIDER_LABEL: Record<Provider, string> = {
  KLING: 'Kling',
  KIE: 'KIE.ai',
  DIGITAL_HUMAN: 'Digital human',
};
export const KIND_LABEL: Record<TaskKind, string> = { AVATAR_VIDEO: 'Avatar video', VIDEO_SOUND: 'Video sound' };

/** A kind's or provider's display name; the value itself when the console does not know it, — when absent. */
export function kindLabel(kind: string | null | undefined): string {
  return kind ? (KIND_LABEL[kind as TaskKind] ?? kind) : '—';
}
export function providerLabel(provider: string | null | undefined): string {
  return provider ? (PROVIDER_LABEL[provider as Provider] ?? provider) : '—';
}

export function Progress({ value, label: text }: { value: number | null | undefined; label: string }) {
  if (value == null) return <progress aria-label={text} />;
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <progress aria-label={text} max={100} value={pct}>
      {pct}%
    </progress>
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function Time({ value, short }: { value: string | null | undefined; short?: boolean }) {
  if (!value) return <span className="muted">—</span>;
  const d = new Date(value);
  return (
    <time dateTime={value} title={d.toISOString()}>
      {short && d.toDateString() === new Date().toDateString() ? timeOnly.format(d) : dateTime.format(d)}
    </time>
  );
}

export function ErrorState({
  error,
  title = 'Something went wrong',
  retry,
}: {
  error: CombinedError | Error | string;
  title?: string;
  retry?: () => void;
}) {
  const message = typeof error === 'string' ? error : describeError(error);
  return (
    <div className="callout error" role="alert">
      <strong>{title}</strong>
      <p>{message}</p>
      {retry ? (
        <button type="button" className="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function describeError(error: CombinedError | Error): string {
  if ('networkError' in error && error.networkError) return 'The API cannot be reached. Check that it is running.';
  if ('graphQLErrors' in error && error.graphQLErrors.length > 0)
    return error.graphQLErrors.map((e) => e.message).join('; ');
  return error.message;
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

/** The page heading; focused when the page opens so screen readers announce it. */
export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <div className="page-head">
      <h1 ref={ref} tabIndex={-1}>
        {children}
      </h1>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </div>
  );
}

/** A task's short name: the first block of its UUID (Relay ids are base64 of `Task:<uuid>`). */
export function shortId(id: string): string {
  let raw = id;
  try {
    const decoded = window.atob(id);
    if (/^[A-Za-z]+:/.test(decoded)) raw = decoded.slice(decoded.indexOf(':') + 1);
  } catch {
    // not base64: show it as it is
  }
  return raw.length > 12 ? raw.slice(0, 8) : raw;
}

/** A value (an id) on one line — cut with an ellipsis when it does not fit — and a button that copies it whole. */
export function CopyableId({ value, label }: { value: string; label: string }) {
  return (
    <span className="copyable">
      <span className="mono copyable-value" title={value}>
        {value}
      </span>
      <CopyButton text={value} name={`Copy ${label}`} />
    </span>
  );
}
