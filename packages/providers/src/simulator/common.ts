import type { ServerResponse } from 'node:http';
import { CallbackSender, type SentCallback } from './callbacks.js';
import {
  HttpFaultState,
  Timers,
  bodyForRecord,
  seededRandom,
  type CallbackFaultControls,
  type FaultControls,
  type HttpFault,
  type RecordedRequest,
} from './faults.js';
import { InputFetcher, type InputFetch } from './inputs.js';
import type { SimHandler, SimRequest } from './server.js';

/*
 * The plumbing every provider simulator shares: request recording, authentication and injected
 * faults around each API route, latency, one-shot create errors, the common controls and stop().
 * What differs per provider (its auth rules, its error shape) comes in as an ApiStyle.
 */

/** An error answer of a simulated API: the HTTP status, the provider's code, its message and extra headers. */
export class SimApiError<Code extends number | string> extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: Code,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Whether `value` is an http(s) URL, the only inputs and callback targets the providers take. */
export function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/** The Retry-After header for an injected error, when it has one. */
export function retryAfterHeader(retryAfter: string | undefined): Record<string, string> {
  return retryAfter !== undefined ? { 'retry-after': retryAfter } : {};
}

/** A value armed for the next use only (e.g. the next create's error). */
export class OneShot<T> {
  private value: T | null = null;

  set(value: T | null): void {
    this.value = value;
  }

  /** The armed value, disarming it; null when none is armed. */
  take(): T | null {
    const value = this.value;
    this.value = null;
    return value;
  }
}

/** The request body as a JSON object; `refuse` makes the provider's error for a body that is not JSON, or not an object. */
export function jsonObjectBody(
  req: SimRequest,
  refuse: (problem: 'not JSON' | 'not an object') => Error,
): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch {
    throw refuse('not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw refuse('not an object');
  return body as Record<string, unknown>;
}

/** How one provider's API checks a request and answers with an error. */
export interface ApiStyle<E> {
  /** Throws the provider's error when the credentials are missing or wrong. */
  authenticate(req: SimRequest): void | Promise<void>;
  /** The provider's rendering of an injected HTTP fault. */
  fault(f: HttpFault): E;
  /** A thrown value as the provider's error: itself when it is one, else the provider's internal error. */
  asError(err: unknown): E;
  send(res: ServerResponse, e: E): void;
}

/** The controls every provider simulator shares. */
interface CommonControls extends FaultControls {
  requestCount(): number;
  lastRequest(): RecordedRequest | null;
  inputFetches(): InputFetch[];
}

/** A provider simulator mounted on the shared router: its controls, and stop() for its timers, downloads and callbacks. */
export interface MountedSim<Controls> {
  controls: Controls;
  stop(): Promise<void>;
}

/** State and plumbing shared by the provider simulators: timers, HTTP faults, input downloads, request records. */
export class SimCore {
  readonly timers = new Timers();
  readonly faults = new HttpFaultState();
  readonly inputs: InputFetcher;
  /** The last request to one of this provider's API routes. */
  last: RecordedRequest | null = null;
  private requests = 0;

  constructor(fetchInputs: boolean | undefined) {
    this.inputs = new InputFetcher(fetchInputs ?? true);
  }

  /** Waits the injected latency, if any. */
  async delay(): Promise<void> {
    if (this.faults.latencyMs > 0) await this.timers.sleep(this.faults.latencyMs);
  }

  /** `handler` after the injected latency. */
  delayed(handler: SimHandler): SimHandler {
    return async (req, res) => {
      await this.delay();
      await handler(req, res);
    };
  }

  /**
   * An API route: records the request, authenticates it, applies an armed HTTP fault (create
   * faults only when `isCreate`), runs `handler`, and answers anything thrown in the provider's
   * error shape after the injected latency.
   */
  api<E>(style: ApiStyle<E>, isCreate: boolean, handler: SimHandler): SimHandler {
    return async (req, res) => {
      this.requests += 1;
      this.last = {
        method: req.method,
        path: req.url.pathname + req.url.search,
        headers: req.headers,
        body: bodyForRecord(req.body, req.headers['content-type']),
      };
      try {
        const authenticated = style.authenticate(req);
        if (authenticated) await authenticated;
        const fault = this.faults.take(isCreate);
        if (fault) throw style.fault(fault);
        await handler(req, res);
      } catch (err) {
        const e = style.asError(err);
        await this.delay();
        style.send(res, e);
      }
    };
  }

  /** The shared controls; `clear` resets the provider's own faults when clearFaults() runs. */
  controls(clear: () => void): CommonControls {
    return {
      requestCount: () => this.requests,
      lastRequest: () => this.last,
      inputFetches: () => this.inputs.records(),
      setLatencyMs: (ms) => {
        this.faults.latencyMs = ms;
      },
      failNext: (f) => this.faults.failNext(f),
      clearFaults: () => {
        this.faults.clear();
        clear();
      },
    };
  }

  /** Cancels timers and aborts input downloads. */
  async stop(): Promise<void> {
    this.timers.clear();
    await this.inputs.stop();
  }
}

/** A provider's callback sender, on the simulator's timers and seeded PRNG. */
export function callbackSender(core: SimCore, opts: { seed?: number; reorderHoldMs?: number }): CallbackSender {
  return new CallbackSender(
    core.timers,
    seededRandom(opts.seed ?? 1),
    opts.reorderHoldMs !== undefined ? { reorderHoldMs: opts.reorderHoldMs } : {},
  );
}

/** The callback controls of a provider that sends callbacks. */
export function callbackControls(
  callbacks: CallbackSender,
): CallbackFaultControls & { setCallbacksEnabled(on: boolean): void; sentCallbacks(): SentCallback[] } {
  return {
    setCallbacksEnabled: (on) => callbacks.setEnabled(on),
    sentCallbacks: () => callbacks.sent(),
    setCallbackFaults: (f) => callbacks.setFaults(f),
  };
}
