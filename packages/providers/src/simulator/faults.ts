import type { IncomingMessage } from 'node:http';

/*
 * Fault injection shared by every provider simulator, so all of them are driven the same way:
 *   sim.kling.failNext({ status: 429, retryAfter: '2', count: 3 })
 *   sim.kie.setLatencyMs(300)
 *   sim.kie.setCallbackFaults({ duplicate: { count: 1 }, drop: { probability: 0.2 } })
 * Each provider renders an injected HTTP fault in its own error shape (Kling business codes,
 * KIE body codes, the reseller's string codes).
 */

/**
 * How often a fault applies: to the next `count` events, or to each event with `probability`
 * (0..1, drawn from the simulator's seeded PRNG so runs are reproducible).
 */
export type FaultRate = { count: number } | { probability: number };

export interface CallbackFaults {
  /** The callback is never delivered (recorded with status 'dropped'). */
  drop?: FaultRate;
  /** The callback is delivered twice. */
  duplicate?: FaultRate;
  /**
   * The callback is held back and delivered right after the provider's next callback (any task),
   * or after the hold time when no other callback comes.
   */
  reorder?: FaultRate;
}

export type InjectedHttpStatus = 429 | 500 | 502 | 503 | 504;

export interface HttpFault {
  /** 429 (rate limited; the provider's own rate-limit code) or a 5xx (the provider's server-error code). */
  status: InjectedHttpStatus;
  /** How many of the next matching API requests get it. Default 1. */
  count?: number;
  /** Sent as the Retry-After header (delta-seconds or an HTTP date). */
  retryAfter?: string;
  /** 'create' (default): task creation only. 'any': every authenticated API request. */
  scope?: 'create' | 'any';
}

/** The fault controls every provider simulator exposes. */
export interface FaultControls {
  /**
   * Delay every API response by this much. The request takes effect first (a create creates its
   * task), as when a response is lost to a client timeout.
   */
  setLatencyMs(ms: number): void;
  /** The next `count` matching authenticated API requests fail with this error and have no effect. */
  failNext(fault: HttpFault): void;
  /** Clears latency, pending HTTP faults and callback faults. */
  clearFaults(): void;
}

export interface CallbackFaultControls {
  /** Replaces the callback fault settings ({} clears them). */
  setCallbackFaults(faults: CallbackFaults): void;
}

/** What the simulator last received on its API routes, for field-mapping assertions. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /api/v1/jobs/recordInfo?taskId=… */
  path: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body; the raw text when it is not JSON; null when empty. Multipart bodies: the field names and values (files as {fileName, size, type}). */
  body: unknown;
}

/** mulberry32: a tiny deterministic PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One armed FaultRate: hit() says whether the current event is affected. */
export class FaultCounter {
  private remaining = 0;
  private probability = 0;

  constructor(private readonly random: () => number) {}

  set(rate: FaultRate | undefined): void {
    this.remaining = 0;
    this.probability = 0;
    if (rate === undefined) return;
    if ('count' in rate) this.remaining = Math.max(0, Math.floor(rate.count));
    else this.probability = Math.min(1, Math.max(0, rate.probability));
  }

  hit(): boolean {
    if (this.remaining > 0) {
      this.remaining -= 1;
      return true;
    }
    return this.probability > 0 && this.random() < this.probability;
  }
}

/** setTimeout bookkeeping: everything scheduled through it is cancelled by clear(). */
export class Timers {
  private readonly set = new Set<NodeJS.Timeout>();

  later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.set.delete(t);
      fn();
    }, ms);
    this.set.add(t);
    return t;
  }

  cancel(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.set.delete(t);
  }

  /** Resolves after ms (never, if clear() runs first). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.later(ms, resolve);
    });
  }

  clear(): void {
    for (const t of this.set) clearTimeout(t);
    this.set.clear();
  }
}

/** Latency and next-N HTTP faults for one provider simulator. */
export class HttpFaultState {
  latencyMs = 0;
  private queue: Array<{ fault: HttpFault; remaining: number }> = [];

  failNext(fault: HttpFault): void {
    const count = fault.count ?? 1;
    if (count > 0) this.queue.push({ fault, remaining: Math.floor(count) });
  }

  /** The fault for this request, if one is armed for it (consumes one use). */
  take(isCreate: boolean): HttpFault | null {
    const entry = this.queue.find((e) => (e.fault.scope ?? 'create') === 'any' || isCreate);
    if (!entry) return null;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.queue.splice(this.queue.indexOf(entry), 1);
    return entry.fault;
  }

  clear(): void {
    this.latencyMs = 0;
    this.queue = [];
  }
}

/** Parses a JSON request body for recording: the value, the raw text when not JSON, null when empty. */
export function bodyForRecord(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  if (contentType !== undefined && /multipart\//i.test(contentType)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
