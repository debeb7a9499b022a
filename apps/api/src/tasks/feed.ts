import type { TaskEventRow } from '@clipwire/schema/tables';
import { Repeater } from 'graphql-yoga';
import type { DbOrTx } from '../db/client.js';
import type { ClipwirePubSub } from '../pubsub.js';
import { latestTenantEventId, listTenantEvents, type EventFilter } from './repository.js';

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

  constructor(
    private readonly pubsub: ClipwirePubSub,
    private readonly readAs: ReadAs,
  ) {}

  subscribe(tenantId: string, after: number, filter?: EventFilter): Repeater<TaskEventRow> {
    return new Repeater<TaskEventRow>(async (push, stop) => {
      const feed = await this.feed(tenantId, filter);
      let pending = true;
      let resolveWake: (() => void) | null = null;
      const me: Subscriber = {
        cursor: after,
        wake: () => {
          pending = true;
          resolveWake?.();
        },
      };
      feed.subscribers.add(me);
      let stopped = false;
      void stop.then(() => {
        stopped = true;
        me.wake();
      });
      try {
        while (!stopped) {
          if (!pending) await new Promise<void>((r) => (resolveWake = r));
          resolveWake = null;
          pending = false;
          if (stopped) break;
          for (;;) {
            let rows: TaskEventRow[];
            if (me.cursor >= feed.from) {
              rows = feed.buffer.filter((e) => e.id > me.cursor); // caught up: from memory
            } else {
              const from = feed.from;
              this.reads.catchUp++;
              rows = await this.readAs(tenantId, (db) => listTenantEvents(db, tenantId, me.cursor, PAGE, filter));
              // Nothing more up to the buffer's start (ids up to it were all visible when the feed
              // read them): continue from the buffer.
              if (rows.length === 0 && from !== Number.MAX_SAFE_INTEGER) me.cursor = Math.max(me.cursor, from);
            }
            for (const row of rows) {
              if (stopped || row.id <= me.cursor) continue;
              me.cursor = row.id;
              await push(row);
            }
            if (me.cursor >= feed.from || rows.length < PAGE) break;
          }
        }
      } catch (error) {
        stop(error);
      } finally {
        feed.subscribers.delete(me);
        if (feed.subscribers.size === 0) {
          feed.stop();
          this.feeds.delete(feed.key);
        }
      }
      await stop;
    });
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
            const rows = await this.readAs(feed.tenantId, (db) => listTenantEvents(db, feed.tenantId, feed.head, PAGE, feed.filter));
            if (rows.length > 0) {
              feed.buffer.push(...rows);
              feed.head = rows.at(-1)!.id;
              if (feed.buffer.length > BUFFER) feed.from = feed.buffer.splice(0, feed.buffer.length - BUFFER).at(-1)!.id;
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

