/**
 * A timer set to the earliest time asked of it: `at` moves it earlier, never later. The job workers
 * and the poller sleep on one until their next due work, instead of polling on an interval.
 */
export class WakeTimer {
  private timer: NodeJS.Timeout | undefined;
  private due = Number.POSITIVE_INFINITY;

  constructor(private readonly fire: () => void) {}

  /** Fires at `at` (epoch ms) unless it is already set to fire sooner. */
  at(at: number): void {
    if (at >= this.due) return;
    clearTimeout(this.timer);
    this.due = at;
    this.timer = setTimeout(
      () => {
        this.due = Number.POSITIVE_INFINITY;
        this.fire();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.due = Number.POSITIVE_INFINITY;
  }
}

/**
 * When to look again after a round that found `nextDueMs` (epoch ms; null: nothing planned): then, but
 * not sooner than 50 ms from now (a due time already past is held for an instant by another claim),
 * and at the latest `idleMs` from now (work other processes planned, which cannot tell this one).
 */
export function nextWake(nextDueMs: number | null, idleMs: number): number {
  const now = Date.now();
  return nextDueMs === null ? now + idleMs : Math.min(now + idleMs, Math.max(nextDueMs, now + 50));
}
