import { Agent, request, type Dispatcher, type FormData } from 'undici';
import { transportError, type ProviderName } from './errors.js';

export interface HttpDispatcherOptions {
  /** Max sockets per origin. */
  connections?: number;
  keepAliveTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** The one HTTP client setup: an undici Agent with keep-alive. Inject it into clients (MockAgent in unit tests). */
export function createHttpDispatcher(opts: HttpDispatcherOptions = {}): Dispatcher {
  return new Agent({
    connections: opts.connections ?? 32,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 10_000,
    connect: { timeout: opts.connectTimeoutMs ?? 10_000 },
  });
}

let shared: Dispatcher | undefined;

/** Process-wide default dispatcher, created on first use. */
export function sharedHttpDispatcher(): Dispatcher {
  shared ??= createHttpDispatcher();
  return shared;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  /** JSON text, or a FormData for multipart uploads (undici sets the boundary header). */
  body?: string | FormData;
  dispatcher: Dispatcher;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Sends one request and reads the whole body as text. Transport failures and timeouts (headers,
 * body, or the overall deadline) become retryable ProviderErrors of kind 'network' / 'timeout';
 * HTTP error statuses are returned, not thrown: each provider classifies its own envelope.
 */
export async function sendHttpRequest(provider: ProviderName, req: HttpRequest): Promise<HttpResponse> {
  try {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      dispatcher: req.dispatcher,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  } catch (err) {
    throw transportError(provider, err);
  }
}
