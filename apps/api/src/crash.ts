/**
 * Fail points for the crash tests: with CLIPWIRE_CRASH_AT=<name>[,<name>…] the process kills
 * itself with SIGKILL the first time it reaches a named point (once per process). Unset, this is
 * a no-op.
 */
const points = new Set((process.env.CLIPWIRE_CRASH_AT ?? '').split(',').filter(Boolean));

export type CrashPoint =
  | 'create:before-commit'
  | 'submit:after-attempt-committed'
  | 'submit:after-upstream-accepted'
  | 'callback:after-ack-queued'
  | 'refresh:after-provider-read'
  | 'webhook:after-delivery'
  | 'archive:after-store'
  | 'route:before-move'
  | 'route:after-move';

export function crashPoint(name: CrashPoint): void {
  if (points.size === 0 || !points.has(name)) return;
  process.kill(process.pid, 'SIGKILL');
}
