import { request, type Dispatcher } from 'undici';
import { createHttpDispatcher } from '../http.js';
import { FaultCounter, type CallbackFaults, type Timers } from './faults.js';

export interface SentCallback {
  url: string;
  body: unknown;
  /** Headers the simulator set (content-type, signature headers, …). */
  headers: Record<string, string>;
  /** The receiver's HTTP status; 'error' when it could not be reached in time; 'dropped' when a drop fault ate it. */
  status: number | 'error' | 'dropped';
  /** The injected fault that shaped this delivery, if any. */
  fault?: 'dropped' | 'duplicate' | 'reordered';
}

interface Job {
  key: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

interface Held {
  job: Job;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_REORDER_HOLD_MS = 500;

/**
 * Delivers a provider's callbacks: POST JSON, one after another per key (task), so that without
 * faults a receiver sees them in order. Applies the drop / duplicate / reorder faults and records
 * every attempt. Delivery failures are recorded, never thrown, and never retried.
 */
export class CallbackSender {
  private enabled = true;
  private stopped = false;
  private dispatcher: Dispatcher | undefined;
  private readonly records: SentCallback[] = [];
  private readonly chains = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();
  private held: Held[] = [];
  private readonly drop: FaultCounter;
  private readonly duplicate: FaultCounter;
  private readonly reorder: FaultCounter;

  constructor(
    private readonly timers: Timers,
    random: () => number,
    private readonly opts: { timeoutMs?: number; reorderHoldMs?: number } = {},
  ) {
    this.drop = new FaultCounter(random);
    this.duplicate = new FaultCounter(random);
    this.reorder = new FaultCounter(random);
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
  }

  setFaults(faults: CallbackFaults): void {
    this.drop.set(faults.drop);
    this.duplicate.set(faults.duplicate);
    this.reorder.set(faults.reorder);
  }

  sent(): SentCallback[] {
    return [...this.records];
  }

  /** Queues one callback. `key` orders deliveries (the task id); the body is sent as given. */
  send(key: string, url: string, body: unknown, headers: Record<string, string> = {}): void {
    if (!this.enabled || this.stopped) return;
    const job: Job = { key, url, body, headers: { 'content-type': 'application/json', ...headers } };
    if (this.drop.hit()) {
      this.records.push({ url, body, headers: job.headers, status: 'dropped', fault: 'dropped' });
      return;
    }
    if (this.reorder.hit()) {
      const entry: Held = {
        job,
        timer: this.timers.later(this.opts.reorderHoldMs ?? DEFAULT_REORDER_HOLD_MS, () => {
          this.held = this.held.filter((h) => h !== entry);
          this.enqueue(job.key, job, 'reordered');
        }),
      };
      this.held.push(entry);
      return;
    }
    this.enqueue(key, job);
    if (this.duplicate.hit()) this.enqueue(key, job, 'duplicate');
    // Anything held back goes out right after this one.
    const release = this.held;
    this.held = [];
    for (const h of release) {
      this.timers.cancel(h.timer);
      this.enqueue(key, h.job, 'reordered');
    }
  }

  private enqueue(chainKey: string, job: Job, fault?: 'duplicate' | 'reordered'): void {
    const previous = this.chains.get(chainKey) ?? Promise.resolve();
    const p: Promise<void> = previous.then(() => this.deliver(job, fault));
    this.chains.set(chainKey, p);
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      if (this.chains.get(chainKey) === p) this.chains.delete(chainKey);
    });
  }

  private async deliver(job: Job, fault: 'duplicate' | 'reordered' | undefined): Promise<void> {
    if (this.stopped) return;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.dispatcher ??= createHttpDispatcher({ connections: 8, connectTimeoutMs: timeoutMs });
    let status: number | 'error';
    try {
      const res = await request(job.url, {
        method: 'POST',
        headers: job.headers,
        body: JSON.stringify(job.body),
        dispatcher: this.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
      status = res.statusCode;
    } catch {
      status = 'error';
    }
    this.records.push({ url: job.url, body: job.body, headers: job.headers, status, ...(fault ? { fault } : {}) });
  }

  /** Stops sending, drops held callbacks, waits for deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const h of this.held) this.timers.cancel(h.timer);
    this.held = [];
    await Promise.allSettled([...this.inFlight]);
    await this.dispatcher?.close();
  }
}
