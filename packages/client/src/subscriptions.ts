import { print } from '@0no-co/graphql.web';
import type { TadaDocumentNode } from 'gql.tada';
import { createClient, type Client, type SubscribePayload } from 'graphql-ws';
import { ClipwireError, type GraphQLErrorPayload } from './errors.js';

export interface SocketOptions {
  url: string;
  apiKey: string;
  /** A WebSocket class; default the global one (browsers, Node ≥ 22), else the `ws` package (Node 20). */
  webSocketImpl?: unknown;
  /** Reconnection attempts after a dropped connection (default 10); subscriptions resume after each. */
  retryAttempts?: number;
}

/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406, 4409, 4429, 4500]);

/** The graphql-ws client of one Clipwire client: made on the first subscription, shared by all. */
export class Socket {
  private client: Promise<Client> | undefined;
  constructor(private readonly options: SocketOptions) {}

  private connect(): Promise<Client> {
    this.client ??= (async () => {
      const webSocketImpl =
        this.options.webSocketImpl ?? globalThis.WebSocket ?? ((await import('ws')).default as unknown);
      return createClient({
        url: this.options.url,
        webSocketImpl,
        connectionParams: { authorization: `Bearer ${this.options.apiKey}` },
        lazy: true,
        keepAlive: 10_000,
        retryAttempts: this.options.retryAttempts ?? 10,
        retryWait: (retries) => new Promise((r) => setTimeout(r, Math.min(250 * 2 ** retries, 5_000))),
        shouldRetry: (event) => !(isCloseEvent(event) && FATAL_CLOSE_CODES.has(event.code)),
      });
    })();
    return this.client;
  }

  /**
   * The values of one subscription, as an async iterator. `payload` is sent again on every
   * reconnection, as it is then: a caller may update its variables (a cursor) as values arrive.
   */
  subscribe<R, V>(
    document: TadaDocumentNode<R, V>,
    variables: V,
    options: { signal?: AbortSignal; payload?: (payload: SubscribePayload) => void } = {},
  ): AsyncIterableIterator<R> {
    const payload: SubscribePayload = { query: print(document), variables: variables as Record<string, unknown> };
    options.payload?.(payload);
    const queue = new Channel<R>();
    let unsubscribe: (() => void) | undefined;
    const onAbort = () => queue.fail(new ClipwireError('ABORTED', 'The subscription was aborted.'), true);
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    queue.onClose = () => {
      options.signal?.removeEventListener('abort', onAbort);
      unsubscribe?.();
    };
    this.connect().then(
      (client) => {
        if (queue.closed) return;
        unsubscribe = client.subscribe<R>(payload, {
          next: (value) => {
            if (value.errors?.length) queue.fail(graphqlError(value.errors as GraphQLErrorPayload[]));
            else if (value.data) queue.push(value.data);
          },
          error: (error) => queue.fail(socketError(error)),
          complete: () => queue.end(),
        });
      },
      (error) =>
        queue.fail(new ClipwireError('NETWORK', 'Could not load a WebSocket implementation.', { cause: error })),
    );
    return queue;
  }

  async dispose(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await (await client).dispose();
  }
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number';
}

function graphqlError(errors: readonly GraphQLErrorPayload[]): ClipwireError {
  return new ClipwireError('GRAPHQL', errors.map((e) => e.message).join('; '), { graphqlErrors: errors });
}

function socketError(error: unknown): ClipwireError {
  if (Array.isArray(error)) return graphqlError(error as GraphQLErrorPayload[]);
  if (isCloseEvent(error)) {
    if (error.code === 4403 || error.code === 4401)
      return new ClipwireError('UNAUTHENTICATED', error.reason || 'The API key was not accepted.');
    return new ClipwireError(
      'NETWORK',
      `The WebSocket closed (${error.code}${error.reason ? `: ${error.reason}` : ''}).`,
    );
  }
  return new ClipwireError('NETWORK', error instanceof Error ? error.message : 'The WebSocket failed.', {
    cause: error,
  });
}

/** A queue read as an async iterator: values pushed before they are asked for wait in order. */
class Channel<T> implements AsyncIterableIterator<T> {
  private readonly values: T[] = [];
  private readonly waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  private error: unknown;
  closed = false;
  onClose: () => void = () => {};

  push(value: T): void {
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next) next.resolve({ value, done: false });
    else this.values.push(value);
  }

  end(): void {
    this.finish();
  }

  /** Ends with `error`; `dropQueued`: values not read yet are dropped (an abort: nothing after it). */
  fail(error: unknown, dropQueued = false): void {
    if (this.closed) return;
    if (dropQueued) this.values.length = 0;
    this.error = error;
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    if (this.values.length > 0) return; // next() drains them first, then reports the end
    for (const w of this.waiting.splice(0)) {
      if (this.error === undefined) w.resolve({ value: undefined, done: true });
      else w.reject(this.error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.values.length > 0) return Promise.resolve({ value: this.values.shift()!, done: false });
    if (this.closed) {
      const error = this.error;
      this.error = undefined;
      return error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.values.length = 0;
    this.error = undefined;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
