import { request, type Dispatcher } from 'undici';
import { createHttpDispatcher } from '../http.js';

/*
 * Input downloads. Real providers fetch the media URLs they are given (image_url, audio_url,
 * video_url, …) before generating; the simulators do the same so a test proves the URLs it hands
 * over really serve bytes (e.g. Clipwire's signed, expiring /media links).
 *
 * Only URLs taken from a create request are fetched, and only http(s). Redirects are NOT followed
 * (the simulator talks to the URLs it was given, nothing else): a 3xx counts as a failed download.
 */

/** One download of an input URL, as the provider controls report it. */
export interface InputFetch {
  url: string;
  /** The HTTP status; 'error' for a transport failure, a timeout, a body over maxBytes, an abort or a non-http(s) URL. */
  status: number | 'error';
  /** Body bytes read (and discarded). */
  bytes: number;
  /** The Content-Type header as sent, null when absent. */
  contentType: string | null;
}

/** fetchInput's answer: InputFetch plus, when status is 'error', why. */
export interface FetchedInput extends InputFetch {
  error?: string;
  /** The body, when asked for (`keep`). */
  body?: Buffer;
}

export interface FetchInputOptions {
  /** Whole download (headers and body), from the call (waiting for a connection included). Default 30 s. */
  timeoutMs?: number;
  /** Bodies larger than this fail ('error'). Default 100 MiB. */
  maxBytes?: number;
  /** Aborts the download (status 'error'). */
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  /** Keep the body (an input whose length the output follows). */
  keep?: boolean;
}

/**
 * Providers' own download timeouts are undocumented; 5 s (this default until 2026-11) failed tasks on
 * a loaded CI machine, where 40 downloads shared the fetcher's 8 connections behind a busy server.
 */
const DEFAULT_INPUT_TIMEOUT_MS = 30_000;
const DEFAULT_INPUT_MAX_BYTES = 100 * 1024 * 1024;

/** GETs `url` and reads its body to the end, counting the bytes. Never throws. */
export async function fetchInput(url: string, opts: FetchInputOptions = {}): Promise<FetchedInput> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_INPUT_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_INPUT_MAX_BYTES;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, status: 'error', bytes: 0, contentType: null, error: 'invalid URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { url, status: 'error', bytes: 0, contentType: null, error: 'not an http(s) URL' };
  }
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  let bytes = 0;
  let contentType: string | null = null;
  const chunks: Buffer[] = [];
  try {
    const res = await request(parsed, {
      method: 'GET',
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });
    const ct = res.headers['content-type'];
    contentType = (Array.isArray(ct) ? ct[0] : ct) ?? null;
    for await (const chunk of res.body) {
      bytes += (chunk as Buffer).length;
      if (opts.keep) chunks.push(chunk as Buffer);
      if (bytes > maxBytes) {
        res.body.destroy();
        return { url, status: 'error', bytes, contentType, error: `larger than ${maxBytes} bytes` };
      }
    }
    return { url, status: res.statusCode, bytes, contentType, ...(opts.keep ? { body: Buffer.concat(chunks) } : {}) };
  } catch (err) {
    const why = timeout.aborted
      ? `timed out after ${timeoutMs} ms`
      : opts.signal?.aborted
        ? 'aborted'
        : err instanceof Error
          ? err.message
          : String(err);
    return { url, status: 'error', bytes, contentType, error: why };
  }
}

/** A named input of a create request, e.g. { field: 'input.image_url', url }. */
export interface NamedInput {
  field: string;
  url: string;
  /** Keep its body for the outcome (the output's length follows this input). */
  keep?: boolean;
}

/** The outcome of downloading all inputs of one task. */
type InputsOutcome =
  | { ok: true; bodies: Map<string, Buffer> }
  | { ok: false; field: string; result: FetchedInput; reason: string };

const OK: InputsOutcome = { ok: true, bodies: new Map() };

/** "HTTP 404", or the transport error. */
function describe(r: FetchedInput): string {
  return r.status === 'error' ? (r.error ?? 'error') : `HTTP ${r.status}`;
}

/**
 * The input downloads of one provider simulator: records every fetch (in start order), aborts
 * what is in flight on stop(). With enabled false nothing is fetched and every task's inputs count
 * as downloaded.
 */
export class InputFetcher {
  private readonly slots: Array<InputFetch | null> = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private dispatcher: Dispatcher | undefined;
  private stopped = false;

  constructor(
    readonly enabled: boolean,
    private readonly opts: { timeoutMs?: number; maxBytes?: number } = {},
  ) {}

  /**
   * Fetches the inputs concurrently. Resolves (never rejects) once all have finished: ok when every
   * one answered 2xx, otherwise the first failing input in the given order.
   */
  fetchAll(inputs: NamedInput[]): Promise<InputsOutcome> {
    if (!this.enabled || this.stopped || inputs.length === 0) return Promise.resolve(OK);
    this.dispatcher ??= createHttpDispatcher({
      connections: 8,
      keepAliveTimeoutMs: 1000,
      connectTimeoutMs: this.opts.timeoutMs ?? DEFAULT_INPUT_TIMEOUT_MS,
    });
    const dispatcher = this.dispatcher;
    const one = (input: NamedInput): Promise<FetchedInput> => {
      const slot = this.slots.length;
      this.slots.push(null);
      const keep = input.keep === true;
      return fetchInput(input.url, { ...this.opts, signal: this.abort.signal, dispatcher, keep }).then((r) => {
        this.slots[slot] = { url: r.url, status: r.status, bytes: r.bytes, contentType: r.contentType };
        return r;
      });
    };
    const all = Promise.all(inputs.map(one)).then((results): InputsOutcome => {
      for (let i = 0; i < results.length; i++) {
        const r = results[i] as FetchedInput;
        if (r.status === 'error' || r.status < 200 || r.status > 299) {
          const field = (inputs[i] as NamedInput).field;
          return { ok: false, field, result: r, reason: describe(r) };
        }
      }
      const bodies = new Map<string, Buffer>();
      results.forEach((r, i) => {
        if (r.body) bodies.set((inputs[i] as NamedInput).field, r.body);
      });
      return { ok: true, bodies };
    });
    this.inFlight.add(all);
    void all.finally(() => this.inFlight.delete(all));
    return all;
  }

  /** Finished downloads, in the order they were started (field order within a task). */
  records(): InputFetch[] {
    return this.slots.filter((s): s is InputFetch => s !== null).map((s) => ({ ...s }));
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Aborts downloads in flight, waits for them to settle, closes the sockets. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
    await this.dispatcher?.destroy().catch(() => undefined);
  }
}
