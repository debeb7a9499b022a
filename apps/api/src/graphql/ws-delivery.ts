import { createSourceEventStream, execute, type GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, maskError } from 'graphql-yoga';
import { WebSocket } from 'ws';

/** Where a subscription's messages go: its socket and its graphql-ws id. */
export interface Delivery {
  socket: WebSocket;
  id: string;
  /**
   * Subscriptions with the same share key get the same result for the same event: same document,
   * operation, variables and API key (so the same rights).
   */
  shareKey: string;
}

/** Past this much unsent data on a socket, its subscription waits for the socket before the next event. */
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * Subscription delivery over graphql-ws, executed and serialized once per event and distinct
 * subscription instead of once per subscriber.
 *
 * Each subscriber keeps its own source stream (its own cursor: resume, catch-up and completion
 * stay exactly per subscriber). An event object shared by many subscribers — the tenant feed hands
 * the same row to all its subscribers — is executed once per share key and serialized once; each
 * subscriber's `next` message is that JSON with its own id around it, written straight to its
 * socket. graphql-ws still owns the protocol (subscribe, complete, errors, close): what it gets
 * back is a stream that yields nothing and ends when the source ends.
 */
export class SubscriptionDelivery {
  /** Per event object: share key → its `next` payload as JSON. Entries go when the event object does. */
  private readonly executed = new WeakMap<object, Map<string, Promise<string>>>();
  /** Executions done (one per distinct event and share key) and messages sent, for tests and metrics. */
  readonly counts = { executions: 0, sent: 0 };

  constructor(private readonly mask: (error: GraphQLError) => GraphQLError = defaultMask) {}

  async subscribe(
    args: ExecutionArgs,
    delivery: Delivery,
  ): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return this.masked(source as ExecutionResult);
    const iterator = source[Symbol.asyncIterator]();
    const prefix = `{"id":${JSON.stringify(delivery.id)},"type":"next","payload":`;

    let settle: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
    let fail: ((e: unknown) => void) | null = null;
    const ended = new Promise<IteratorResult<ExecutionResult>>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    ended.catch(() => {}); // observed by graphql-ws through next()
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await iterator.return?.();
    };

    void (async () => {
      try {
        for (;;) {
          const step = await iterator.next();
          if (step.done || stopped) break;
          const json = await this.payload(args, delivery.shareKey, step.value);
          const { socket } = delivery;
          if (stopped || socket.readyState !== WebSocket.OPEN) break;
          const message = `${prefix + json}}`;
          this.counts.sent++;
          if (socket.bufferedAmount < HIGH_WATER_BYTES) socket.send(message);
          else await new Promise<void>((resolve) => socket.send(message, () => resolve()));
        }
        await stop();
        settle!({ done: true, value: undefined });
      } catch (error) {
        await stop().catch(() => {});
        fail!(error);
      }
    })();

    const stream: AsyncIterableIterator<ExecutionResult> = {
      [Symbol.asyncIterator]() {
        return stream;
      },
      next: () => ended,
      return: async () => {
        await stop();
        settle!({ done: true, value: undefined });
        return { done: true, value: undefined };
      },
      throw: async (error: unknown) => {
        await stop();
        fail!(error);
        return ended;
      },
    };
    return stream;
  }

  /** The `next` payload of one event as JSON: executed once per (event object, share key). */
  private payload(args: ExecutionArgs, shareKey: string, event: unknown): Promise<string> {
    if (event === null || typeof event !== 'object') return this.run(args, event);
    let byKey = this.executed.get(event);
    if (!byKey) this.executed.set(event, (byKey = new Map()));
    let json = byKey.get(shareKey);
    if (!json) byKey.set(shareKey, (json = this.run(args, event)));
    return json;
  }

  private async run(args: ExecutionArgs, event: unknown): Promise<string> {
    this.counts.executions++;
    const result = this.masked((await execute({ ...args, rootValue: event })) as ExecutionResult);
    const { errors, ...rest } = result;
    // The same shape graphql-ws gives a result.
    return JSON.stringify(errors ? { ...rest, errors: errors.map((e) => e.toJSON()) } : rest);
  }

  private masked(result: ExecutionResult): ExecutionResult {
    return result.errors ? { ...result, errors: result.errors.map((e) => this.mask(e)) } : result;
  }
}

/** Errors the resolvers did not mean to show (anything but a GraphQLError) become "Unexpected error.", as over HTTP. */
function defaultMask(error: GraphQLError): GraphQLError {
  return maskError(error, 'Unexpected error.', false) as GraphQLError;
}
