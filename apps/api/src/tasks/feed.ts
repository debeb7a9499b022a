import type { TaskEventRow } from '@clipwire/schema/tables';
import type { DbOrTx } from '../db/client.js';
import type { ClipwirePubSub } from '../pubsub.js';
import { latestTenantEventId, listTenantEvents, type EventFilter } from './events.js';

const PAGE = 500;
/** Recent events kept per feed, so caught-up subscribers never touch the database. */
const BUFFER = 10_000;

type ReadAs = <T>(tenantId: string, fn: (db: DbOrTx) => Promise<T>) => Promise<T>;

interface Subscriber {
  cursor: number;
  wake(): void;
}

/** One shared reader per (tenant, filter) in this process. */
interface Feed {
  key: string;
  tenantId: string;
  filter: EventFilter | undefined;
  /** Every matching event with id > `from` is in `buffer`, in order, up to `head`. */
  from: number;
  head: number;
  buffer: TaskEventRow[];
  subscribers: Set<Subscriber>;
  reading: Promise<void> | null;
  again: boolean;
  stop(): void;
}

/**
 * The tenant feeds of this process. A published signal makes each feed read the database once,
 * from its own cursor, whatever the number of subscribers; subscribers that are behind (a resume
 * with an old `after`) read the database themselves until they reach the feed's buffer. Reading by
 * cursor, always, is what makes the feed gap-free and duplicate-free (event ids become visible in
 * commit order per tenant: see lockTenantFeed).
 */
export class TenantFeeds {
  private readonly feeds = new Map<string, Feed>();
  /** Database reads made by the shared readers and by lagging subscribers (for tests and metrics). */
  readonly reads = { shared: 0, catchUp: 0 };

  /** Subscribers attached to a feed (listening and caught up to the feed's start): for tests and metrics. */
  get subscriberCount(): number {
    let n = 0;
    for (const feed of this.feeds.values()) n += feed.subscribers.size;
    return n;
  }

  constructor(
    private readonly pubsub: ClipwirePubSub,
    private readonly readAs: ReadAs,
  ) {}

  subscribe(tenantId: string, after: number, filter?: EventFilter): AsyncIterableIterator<TaskEventRow> {
    const stream = new FeedStream();
    void (async () => {
      let feed: Feed | null = null;
      let pending = true;
      let resolveWake: (() => void) | null = null;
      const me: Subscriber = {
        cursor: after,
        wake: () => {
          pending = true;
          resolveWake?.();
        },
      };
      stream.onClose = () => me.wake();
      try {
        feed = await this.feed(tenantId, filter);
        feed.subscribers.add(me);
        while (!stream.closed) {
          if (!pending) await new Promise<void>((r) => (resolveWake = r));
          resolveWake = null;
          pending = false;
          for (;;) {
            if (stream.closed) return;
            let rows: TaskEventRow[];
            if (me.cursor >= feed.from) {
              rows = feed.buffer.slice(firstAfter(feed.buffer, me.cursor)); // caught up: from memory
            } else {
              const from = feed.from;
              this.reads.catchUp++;
              rows = await this.readAs(tenantId, (db) => listTenantEvents(db, tenantId, me.cursor, PAGE, filter));
              // Nothing more up to the buffer's start (ids up to it were all visible when the feed
              // read them): continue from the buffer.
              if (rows.length === 0 && from !== Number.MAX_SAFE_INTEGER) me.cursor = Math.max(me.cursor, from);
            }
            const fresh = rows.filter((row) => row.id > me.cursor);
            if (fresh.length > 0) {
              me.cursor = fresh.at(-1)!.id;
              stream.enqueue(fresh);
            }
            // A slow reader holds at most a page or so: the rest waits in the feed (or the database).
            if (stream.backlog > PAGE) await stream.drained();
            if (me.cursor >= feed.from || rows.length < PAGE) break;
          }
        }
      } catch (error) {
        stream.fail(error);
      } finally {
        if (feed) {
          feed.subscribers.delete(me);
          if (feed.subscribers.size === 0 && this.feeds.get(feed.key) === feed) {
            feed.stop();
            this.feeds.delete(feed.key);
          }
        }
      }
    })();
    return stream;
  }

  private async feed(tenantId: string, filter: EventFilter | undefined): Promise<Feed> {
    const key = `${tenantId}|${JSON.stringify(filter ?? {})}`;
    const existing = this.feeds.get(key);
    if (existing) return existing;
    const signals = this.pubsub.subscribe('tenant:events', tenantId);
    const feed: Feed = {
      key,
      tenantId,
      filter,
      from: Number.MAX_SAFE_INTEGER,
      head: 0,
      buffer: [],
      subscribers: new Set(),
      reading: null,
      again: false,
      stop: () => void signals.return?.(),
    };
    this.feeds.set(key, feed);
    // The buffer starts at the newest event now: anything older is read from the database.
    const latest = await this.readAs(tenantId, (db) => latestTenantEventId(db, tenantId));
    feed.from = latest;
    feed.head = latest;
    void (async () => {
      for await (const _ of signals) void this.read(feed);
    })();
    return feed;
  }

  /** One read per signal for the whole feed (signals arriving meanwhile make one more read). */
  private read(feed: Feed): Promise<void> {
    if (feed.reading) {
      feed.again = true;
      return feed.reading;
    }
    feed.reading = (async () => {
      try {
        do {
          feed.again = false;
          for (;;) {
            this.reads.shared++;
            const rows = await this.readAs(feed.tenantId, (db) =>
              listTenantEvents(db, feed.tenantId, feed.head, PAGE, feed.filter),
            );
            if (rows.length > 0) {
              feed.buffer.push(...rows);
              feed.head = rows.at(-1)!.id;
              if (feed.buffer.length > BUFFER)
                feed.from = feed.buffer.splice(0, feed.buffer.length - BUFFER).at(-1)!.id;
            }
            if (rows.length < PAGE) break;
          }
          for (const s of feed.subscribers) s.wake();
        } while (feed.again);
      } finally {
        feed.reading = null;
      }
    })();
    return feed.reading;
  }
}

/** Index of the first event with id > `cursor` in ascending `events` (binary search). */
function firstAfter(events: readonly TaskEventRow[], cursor: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.id <= cursor) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One subscriber's events: a queue its reader fills and graphql-ws drains. (A plain queue, not a
 * Repeater: with thousands of subscribers per event, the per-event cost is what fan-out is made of.)
 */
class FeedStream implements AsyncIterableIterator<TaskEventRow> {
  closed = false;
  onClose: () => void = () => {};
  private queue: TaskEventRow[] = [];
  private head = 0;
  private waiter: { resolve: (r: IteratorResult<TaskEventRow>) => void; reject: (e: unknown) => void } | null = null;
  private error: { reason: unknown } | null = null;
  private drainWaiter: (() => void) | null = null;

  get backlog(): number {
    return this.queue.length - this.head;
  }

  enqueue(rows: TaskEventRow[]): void {
    if (this.closed) return;
    let i = 0;
    if (this.waiter && rows.length > 0) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve({ value: rows[0]!, done: false });
      i = 1;
    }
    for (; i < rows.length; i++) this.queue.push(rows[i]!);
  }

  /** Resolves once the reader has taken everything queued (or the stream closed). */
  drained(): Promise<void> {
    if (this.backlog === 0 || this.closed) return Promise.resolve();
    return new Promise((r) => (this.drainWaiter = r));
  }

  fail(reason: unknown): void {
    if (this.closed) return;
    this.error = { reason };
    if (this.waiter && this.backlog === 0) {
      const { reject } = this.waiter;
      this.waiter = null;
      this.close();
      reject(reason);
    }
  }

  next(): Promise<IteratorResult<TaskEventRow>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
        this.drainWaiter?.();
        this.drainWaiter = null;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.error) {
      const { reason } = this.error;
      this.close();
      return Promise.reject(reason);
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<TaskEventRow>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TaskEventRow> {
    return this;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.waiter?.resolve({ value: undefined, done: true });
    this.waiter = null;
    this.drainWaiter?.();
    this.drainWaiter = null;
    this.onClose();
  }
}
