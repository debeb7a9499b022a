/**
 * Embedded PGlite in a worker thread. PGlite is Postgres compiled to WebAssembly: each statement's
 * parse, plan and execution runs synchronously in the thread that owns it, so in the API's thread a
 * busy database stalls every request, timer and socket behind it. Here a worker thread owns the
 * PGlite instance (pglite-worker.ts) and the API's thread holds a PgliteWorkerClient, which offers
 * what drizzle's pglite driver calls on a PGlite client — query(text, params, options),
 * exec(text, options) and transaction(fn) whose tx has query, exec, rollback and closed — plus
 * close(). Each call is one message each way.
 *
 * Results are PGlite's own, cloned across (Date, Uint8Array, bigint, parsed json survive the clone).
 * Parsers a caller passes (drizzle passes some, to keep dates as text) are functions, which cannot
 * cross: the worker leaves those types' columns as PGlite's raw text and they run here, on exactly the
 * values PGlite would have given them. Drizzle's types are left raw on every query (PGlite then
 * needs no per-query parsers, which cost it a third of a small query), and parsed here with PGlite's
 * own parsers for a query that did not ask for them raw. Errors are rebuilt as the class PGlite threw
 * (DatabaseError, TransactionAbortedError) with the same fields (code, constraint, detail…), and with
 * the caller's own params and query options attached as PGlite attaches them.
 *
 * Transactions behave as in one thread: PGlite's transaction lock is held in the worker from BEGIN
 * until the callback here returns or throws, and statements outside it wait. As with PGlite itself, a
 * statement on the database awaited inside a transaction's callback therefore waits forever.
 */
import { Worker } from 'node:worker_threads';
import type { QueryOptions, Results } from '@electric-sql/pglite';
import type { WorkerInit, WorkerReady, WorkerReply, WorkerRequest } from './pglite-protocol.js';
import { workerEntry } from './pglite-worker-entry.js';
import {
  DRIZZLE_RAW_TYPES,
  fromWire,
  type Parser,
  parseRawColumns,
  pgliteParsers,
  wireOptions,
} from './pglite-wire.js';

/** The transaction handed to transaction()'s callback: PGlite's Transaction, less sql and listen. */
export interface PgliteWorkerTransaction {
  query<T = Record<string, unknown>>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>>;
  exec(text: string, options?: QueryOptions): Promise<Results[]>;
  rollback(): Promise<void>;
  readonly closed: boolean;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  params: unknown[] | undefined;
  options: QueryOptions | undefined;
}

/** The part of PGlite's client API that drizzle's pglite driver uses, with PGlite in a worker thread. */
export class PgliteWorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #lastId = 0;
  /** Set once the worker is gone (closed, crashed): every call after fails with it. */
  #gone: Error | undefined;
  #closing = false;
  /** The types the worker always returns raw, with PGlite's parser of each (absent: PGlite leaves it text). */
  readonly #raw: Set<number>;
  readonly #pgliteParsers: Map<number, Parser>;

  private constructor(worker: Worker, raw: number[], arrays: [number, number][]) {
    this.#worker = worker;
    this.#raw = new Set(raw);
    this.#pgliteParsers = pgliteParsers(raw, arrays);
    worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    worker.on('error', (error: Error) =>
      this.#stop(new Error(`the PGlite worker failed: ${error.message}`, { cause: error })),
    );
    worker.on('exit', (code: number) => this.#stop(new Error(`the PGlite worker exited (code ${code})`)));
    // The worker keeps the process alive only while a call waits for it, as PGlite in this thread would.
    worker.unref();
  }

  /** Starts the worker and opens PGlite at `dataDir` (a path or `memory://`) in it. */
  static async start(dataDir: string): Promise<PgliteWorkerClient> {
    const { entry, eval: isCode } = workerEntry();
    const worker = new Worker(entry, {
      eval: isCode,
      workerData: { dataDir, raw: DRIZZLE_RAW_TYPES } satisfies WorkerInit,
    });
    let ready: Extract<WorkerReady, { ready: true }>;
    try {
      ready = await new Promise((resolve, reject) => {
        const cleanup = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const onMessage = (message: WorkerReady) => {
          cleanup();
          if (message.ready) resolve(message);
          else reject(fromWire(message.error));
        };
        const onError = (error: Error) => {
          cleanup();
          reject(error);
        };
        const onExit = (code: number) => {
          cleanup();
          reject(new Error(`the PGlite worker exited (code ${code}) before opening the database`));
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    return new PgliteWorkerClient(worker, ready.raw, ready.arrays);
  }

  query<T = Record<string, unknown>>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.runQuery<T>(0, text, params, options);
  }

  exec(text: string, options?: QueryOptions): Promise<Results[]> {
    return this.runExec(0, text, options);
  }

  /**
   * As PGlite's: BEGIN (once no other transaction holds the database), `fn`, then COMMIT, or ROLLBACK
   * and rethrow if `fn` throws (nothing more if `fn` called tx.rollback()). A COMMIT that rolled back
   * an aborted transaction throws TransactionAbortedError.
   */
  async transaction<T>(fn: (tx: PgliteWorkerTransaction) => Promise<T>): Promise<T> {
    const id = (await this.#request({ id: this.#nextId(), op: 'begin' })) as number;
    let closed = false;
    const tx: PgliteWorkerTransaction = {
      query: <R>(text: string, params?: unknown[], options?: QueryOptions) =>
        closed ? Promise.reject(new Error('Transaction is closed')) : this.runQuery<R>(id, text, params, options),
      exec: (text: string, options?: QueryOptions) =>
        closed ? Promise.reject(new Error('Transaction is closed')) : this.runExec(id, text, options),
      rollback: async () => {
        if (closed) throw new Error('Transaction is closed');
        await this.#request({ id: this.#nextId(), op: 'rollback', tx: id });
        closed = true;
      },
      get closed() {
        return closed;
      },
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      closed = true;
      // Should the ROLLBACK itself fail, that error is thrown instead (as PGlite does).
      await this.#request({ id: this.#nextId(), op: 'abort', tx: id });
      throw error;
    }
    closed = true;
    await this.#request({ id: this.#nextId(), op: 'commit', tx: id });
    return result;
  }

  /**
   * Closes PGlite (after any transaction in progress) and stops the worker, which is stopped even if
   * PGlite's close fails. A second call throws, as PGlite's does; after a crash of the worker there is
   * nothing left to close and it resolves.
   */
  async close(): Promise<void> {
    if (this.#closing) throw new Error('PGlite is closed');
    this.#closing = true;
    try {
      if (!this.#gone) await this.#request({ id: this.#nextId(), op: 'close' });
    } finally {
      this.#gone ??= new Error('PGlite is closed');
      await this.#worker.terminate();
    }
  }

  get closed(): boolean {
    return this.#gone !== undefined;
  }

  /** query() on the database (tx 0) or in an open transaction. */
  async runQuery<T>(
    tx: number,
    text: string,
    params: unknown[] | undefined,
    options: QueryOptions | undefined,
  ): Promise<Results<T>> {
    const wire = wireOptions(options);
    const result = (await this.#request(
      { id: this.#nextId(), op: 'query', tx, text, params, options: wire },
      params ?? [],
      options,
    )) as Results<T>;
    parseRawColumns(result as Results, options, this.#raw, this.#pgliteParsers);
    return result;
  }

  async runExec(tx: number, text: string, options: QueryOptions | undefined): Promise<Results[]> {
    const wire = wireOptions(options);
    const results = (await this.#request(
      { id: this.#nextId(), op: 'exec', tx, text, options: wire },
      undefined,
      options,
    )) as Results[];
    for (const result of results) parseRawColumns(result, options, this.#raw, this.#pgliteParsers);
    return results;
  }

  #nextId(): number {
    return ++this.#lastId;
  }

  #request(request: WorkerRequest, params?: unknown[], options?: QueryOptions): Promise<unknown> {
    if (this.#gone) return Promise.reject(this.#gone);
    return new Promise((resolve, reject) => {
      try {
        // Parameters that cannot be cloned (a function, a symbol) fail here, before anything is sent.
        this.#worker.postMessage(request);
      } catch (error) {
        reject(error);
        return;
      }
      this.#pending.set(request.id, { resolve, reject, params, options });
      if (this.#pending.size === 1) this.#worker.ref();
    });
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(fromWire(reply.error, pending.params, pending.options));
  }

  #stop(error: Error): void {
    this.#gone ??= error;
    for (const pending of this.#pending.values()) pending.reject(this.#gone);
    this.#pending.clear();
  }
}
