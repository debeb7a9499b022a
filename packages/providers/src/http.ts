import type { ServerResponse } from 'node:http';
import { Agent, request, type Dispatcher, type FormData } from 'undici';
import type { z } from 'zod';
import { ProviderError, protocolError, retryAfterOf, transportError, type ProviderName } from './errors.js';

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

interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  /** JSON text, or a FormData for multipart uploads (undici sets the boundary header). */
  body?: string | FormData;
  dispatcher: Dispatcher;
  timeoutMs: number;
}

interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Sends one request and reads the whole body as text. Transport failures and timeouts (headers,
 * body, or the overall deadline) become retryable ProviderErrors of kind 'network' / 'timeout';
 * HTTP error statuses are returned, not thrown: each provider classifies its own envelope.
 */
async function sendHttpRequest(provider: ProviderName, req: HttpRequest): Promise<HttpResponse> {
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

/** How one provider's JSON API answers: its envelope, and what an envelope says. */
export interface EnvelopeApi<E> {
  provider: ProviderName;
  /** A body this rejects is not the provider's answer (a gateway page, garbage). */
  envelope: z.ZodType<E>;
  /** How error messages name the envelope, e.g. 'a Kling envelope'. */
  envelopeName: string;
  /** A 429 without an envelope is a retryable rate limit (else, like any non-5xx, a protocol error). */
  rateLimitWithoutEnvelope?: boolean;
  /** The payload of a successful envelope, or the ProviderError the envelope reports. */
  read(env: E, res: HttpResponse): { data: unknown; requestId?: string | undefined } | ProviderError;
}

interface ApiRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Sent as `Authorization: Bearer <bearer>`. */
  bearer: string;
  /** A body sent as application/json. */
  json?: object | undefined;
  /** A multipart body (undici sets the boundary header). */
  form?: FormData;
  /** Extra request headers. */
  headers?: Record<string, string>;
  dispatcher: Dispatcher;
  timeoutMs: number;
}

/**
 * One call to a provider's JSON API: sends `req`, checks the envelope, and returns its payload
 * parsed by `dataSchema`. Throws a ProviderError: transport ('network' / 'timeout'), 'upstream'
 * (retryable) for a 5xx without an envelope, 'protocol' for anything unparseable, else what
 * `api.read` makes of the envelope.
 */
export async function callEnvelopeApi<E, S extends z.ZodType>(
  api: EnvelopeApi<E>,
  req: ApiRequest,
  dataSchema: S,
): Promise<z.output<S>> {
  const { provider } = api;
  const headers: Record<string, string> = {
    ...req.headers,
    authorization: `Bearer ${req.bearer}`,
    accept: 'application/json',
  };
  let body: string | FormData | undefined = req.form;
  if (req.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.json);
  }
  const res = await sendHttpRequest(provider, {
    method: req.method,
    url: req.url,
    headers,
    ...(body !== undefined ? { body } : {}),
    dispatcher: req.dispatcher,
    timeoutMs: req.timeoutMs,
  });
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch {
    json = undefined;
  }
  const envelope = api.envelope.safeParse(json);
  if (!envelope.success) {
    // A gateway error page instead of the provider's envelope: a 5xx is worth retrying, anything else is not.
    const rateLimited = api.rateLimitWithoutEnvelope === true && res.status === 429;
    if (res.status >= 500 || rateLimited) {
      throw new ProviderError({
        provider,
        code: `HTTP_${res.status}`,
        kind: rateLimited ? 'rate_limit' : 'upstream',
        retryable: true,
        httpStatus: res.status,
        message: `${provider}: HTTP ${res.status} without ${api.envelopeName}`,
        ...retryAfterOf(res.headers),
      });
    }
    throw protocolError(provider, `unparseable response (HTTP ${res.status})`, { httpStatus: res.status });
  }
  const outcome = api.read(envelope.data, res);
  if (outcome instanceof ProviderError) throw outcome;
  const data = dataSchema.safeParse(outcome.data);
  if (!data.success) {
    throw protocolError(provider, `unexpected response data: ${data.error.message}`, {
      httpStatus: res.status,
      ...(outcome.requestId !== undefined ? { requestId: outcome.requestId } : {}),
      cause: data.error,
    });
  }
  return data.data;
}

/** A JSON answer with its length: the simulator's and the API's own responses. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
