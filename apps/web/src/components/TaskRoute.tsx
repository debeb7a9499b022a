import { providerLabel, Time } from './ui';

/** One provider of a task's route and what came of it (`Task.attempts`). */
export interface RouteAttemptView {
  provider: string | null;
  outcome: string | null;
  code: string | null;
  message: string | null;
  at: string | null;
}

/** Each outcome's words and badge class. */
const OUTCOMES: Record<string, [string, string]> = {
  SKIPPED: ['Skipped', 'event-archive-failed'],
  REFUSED: ['Refused', 'event-archive-failed'],
  UNAVAILABLE: ['Unavailable', 'event-archive-failed'],
  ACCEPTED: ['Accepted', 'status-succeeded'],
  PENDING: ['Being sent', 'status-pending'],
  STOPPED: ['Stopped', 'status-failed'],
};

/**
 * The providers a task was tried on, in order, and why it left each; then those still to try. Shown
 * only for a task that had a route (more than one provider).
 */
export function TaskRoute(props: { attempts: RouteAttemptView[] | null; route: (string | null)[] | null }) {
  const attempts = props.attempts ?? [];
  const route = (props.route ?? []).filter((p): p is string => p !== null);
  if (attempts.length + route.length < 2) return null;
  return (
    <section className="card" aria-labelledby="route-h">
      <h2 id="route-h">Route</h2>
      <ol className="timeline">
        {attempts.map((a) => {
          const [text, className] = OUTCOMES[a.outcome ?? ''] ?? [a.outcome ?? '—', 'status-pending'];
          return (
            <li key={`${a.provider}-${a.at}`} data-outcome={a.outcome ?? undefined}>
              <strong>{providerLabel(a.provider)}</strong>
              <span className={`badge ${className}`}>{text}</span>
              {a.code ? <span className="mono">{a.code}</span> : null}
              <Time value={a.at} />
              {a.message ? <span className="event-message">{a.message}</span> : null}
            </li>
          );
        })}
        {route.map((provider) => (
          <li key={provider} data-outcome="NEXT">
            <strong>{providerLabel(provider)}</strong>
            <span className="muted">next, if {providerLabel(attempts.at(-1)?.provider)} does not take it</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
