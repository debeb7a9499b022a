/**
 * The messages between the API's thread and the worker thread that runs embedded PGlite
 * (pglite-worker.ts, driven by pglite-client.ts). Types only: nothing here exists at run time.
 */

export interface WorkerInit {
  /** PGlite's data dir: a path, or `memory://…`. */
  dataDir: string;
  /**
   * Types whose columns the worker always returns as PGlite's raw text (the caller's thread parses
   * them, with the caller's parsers or PGlite's own): the types drizzle asks raw on every query.
   */
  raw: number[];
}

/** What a query carries besides its text and parameters (functions cannot cross a thread). */
export interface WireQueryOptions {
  rowMode?: 'array' | 'object';
  /**
   * The type ids for which the caller passed its own parsers: the worker returns those columns as
   * PGlite's raw text (never parsed), and the caller's thread runs its parsers on them. When they are
   * all among the worker's raw types (drizzle's are), the query needs no parsers of its own in the
   * worker: PGlite then skips copying its ~300 parsers into a per-query table, a third of a small
   * query's time.
   */
  raw: number[];
  paramTypes?: number[];
}

/** `tx` is the id of an open transaction, 0 for none (the database itself). */
export type WorkerRequest =
  | { id: number; op: 'query'; tx: number; text: string; params: unknown[] | undefined; options: WireQueryOptions }
  | { id: number; op: 'exec'; tx: number; text: string; options: WireQueryOptions }
  /** Opens a transaction (once PGlite's transaction lock is had): the reply's value is its id. */
  | { id: number; op: 'begin' }
  /** The transaction's callback returned: PGlite commits (unless it was rolled back). */
  | { id: number; op: 'commit'; tx: number }
  /** The transaction's callback threw: PGlite rolls back (unless it was rolled back). */
  | { id: number; op: 'abort'; tx: number }
  /** `tx.rollback()`. */
  | { id: number; op: 'rollback'; tx: number }
  | { id: number; op: 'close' };

/** An error as it crosses the thread: rebuilt as the same class, with the same fields, on the other side. */
export interface WireError {
  kind: 'database' | 'transaction-aborted' | 'error' | 'value';
  name: string;
  message: string;
  /** Own fields that could be cloned (Postgres's code, constraint, detail…). */
  fields: Record<string, unknown>;
  /**
   * Fields PGlite attached from the query (its parameters; its options, whose parsers are functions)
   * that are left out: the caller's thread puts back its own.
   */
  attached: ('params' | 'queryOptions')[];
  /** For kind 'value': what was thrown, if it could be cloned. */
  value?: unknown;
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/**
 * The worker's first message. `raw` is every type whose columns come back as raw text (the init's
 * types, and the array types of those, whose PGlite parsers parse their elements with them); `arrays`
 * gives, for each of those that PGlite parses as an array, its element type.
 */
export type WorkerReady =
  | { ready: true; raw: number[]; arrays: [arrayType: number, elementType: number][] }
  | { ready: false; error: WireError };
