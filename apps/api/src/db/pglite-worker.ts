/**
 * The worker thread that owns embedded PGlite, so that its WebAssembly (every statement's parse,
 * plan and execution) runs beside the API's event loop instead of on it. Started by
 * pglite-client.ts, which gives the API thread a client with the part of PGlite's API that drizzle
 * calls; the two talk in the messages of pglite-protocol.ts.
 *
 * Every request is handed to PGlite as it arrives, and PGlite's own locks order them exactly as
 * they order calls in one thread: a transaction holds the database from BEGIN until its callback
 * ends, which here is when the API thread says so (commit or abort), and statements outside it wait.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  messages,
  PGlite,
  TransactionAbortedError,
  type ParserOptions,
  type QueryOptions,
  type Transaction,
} from '@electric-sql/pglite';
import type {
  WireError,
  WireQueryOptions,
  WorkerInit,
  WorkerReady,
  WorkerReply,
  WorkerRequest,
} from './pglite-protocol.js';

if (!parentPort) throw new Error('pglite-worker runs as a worker thread: see pglite-client.ts');
const port = parentPort;

/** A transaction whose callback is running on the API thread. */
class OpenTransaction {
  tx: Transaction | undefined;
  /** PGlite's transaction() as a whole: settles once it has committed or rolled back. */
  settled: Promise<void> | undefined;
  /** Settles when the API thread's callback has ended: how PGlite is to end the transaction. */
  readonly ended: Promise<'commit' | 'abort'>;
  readonly finish: (how: 'commit' | 'abort') => void;

  constructor() {
    let finish!: (how: 'commit' | 'abort') => void;
    this.ended = new Promise((resolve) => (finish = resolve));
    this.finish = finish;
  }
}

/** What the callback throws when the API thread's callback threw: PGlite rolls back and rethrows it. */
const ABORTED = Symbol('aborted');
const open = new Map<number, OpenTransaction>();
let lastTransaction = 0;

const identity = (value: string): string => value;
/** Parsers that leave the given type ids as raw text, one object per set of ids. */
const rawParsers = new Map<string, ParserOptions>();
/** The types PGlite itself leaves raw here (see leaveRaw). */
const alwaysRaw = new Set<number>();

function queryOptions(options: WireQueryOptions): QueryOptions {
  const result: QueryOptions = {};
  if (options.rowMode !== undefined) result.rowMode = options.rowMode;
  if (options.paramTypes !== undefined) result.paramTypes = options.paramTypes;
  // Parsers of its own only for a type PGlite does not leave raw already: given any, PGlite copies
  // all of its own (some 300) into a table for the query.
  if (options.raw.some((typeId) => !alwaysRaw.has(typeId))) {
    const key = options.raw.join(',');
    let parsers = rawParsers.get(key);
    if (!parsers) rawParsers.set(key, (parsers = Object.fromEntries(options.raw.map((typeId) => [typeId, identity]))));
    result.parsers = parsers;
  }
  return result;
}

function transactionOf(id: number): Transaction {
  const tx = open.get(id)?.tx;
  if (!tx) throw new Error('Transaction is closed');
  return tx;
}

/** Opens a transaction: resolves with its id once PGlite has begun it (it waits for any other). */
function begin(pg: PGlite): Promise<number> {
  return new Promise((resolve, reject) => {
    const id = ++lastTransaction;
    const entry = new OpenTransaction();
    let started = false;
    entry.settled = pg.transaction(async (tx) => {
      started = true;
      entry.tx = tx;
      open.set(id, entry);
      resolve(id);
      if ((await entry.ended) === 'abort') throw ABORTED;
    });
    // Before the callback ran (BEGIN failed, PGlite closed), the failure is the answer to begin; after,
    // it is the answer to commit or abort.
    entry.settled.catch((error: unknown) => {
      if (!started) reject(error);
    });
  });
}

async function end(id: number, how: 'commit' | 'abort'): Promise<void> {
  const entry = open.get(id);
  if (!entry?.settled) throw new Error('Transaction is closed');
  open.delete(id);
  entry.finish(how);
  try {
    await entry.settled;
  } catch (error) {
    if (error !== ABORTED) throw error;
  }
}

async function run(pg: PGlite, request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case 'query': {
      const target = request.tx === 0 ? pg : transactionOf(request.tx);
      return target.query(request.text, request.params, queryOptions(request.options));
    }
    case 'exec': {
      const target = request.tx === 0 ? pg : transactionOf(request.tx);
      return target.exec(request.text, queryOptions(request.options));
    }
    case 'begin':
      return begin(pg);
    case 'commit':
      return end(request.tx, 'commit');
    case 'abort':
      return end(request.tx, 'abort');
    case 'rollback':
      return transactionOf(request.tx).rollback();
    case 'close':
      return pg.close();
  }
}

function cloneable(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol';
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

const ATTACHED = ['params', 'queryOptions'] as const;

function toWire(error: unknown): WireError {
  if (!(error instanceof Error)) {
    return {
      kind: 'value',
      name: 'Error',
      message: String(error),
      fields: {},
      attached: [],
      ...(cloneable(error) ? { value: error } : {}),
    };
  }
  const fields: Record<string, unknown> = {};
  const attached: WireError['attached'] = [];
  for (const [key, value] of Object.entries(error)) {
    if ((ATTACHED as readonly string[]).includes(key)) attached.push(key as (typeof ATTACHED)[number]);
    else if (cloneable(value)) fields[key] = value;
  }
  const kind =
    error instanceof TransactionAbortedError
      ? 'transaction-aborted'
      : error instanceof messages.DatabaseError
        ? 'database'
        : 'error';
  return { kind, name: error.name, message: error.message, fields, attached };
}

function reply(message: WorkerReply): void {
  try {
    port.postMessage(message);
  } catch (error) {
    // A result that cannot be cloned (a Blob, say) fails its own request, not the worker.
    port.postMessage({ id: message.id, ok: false, error: toWire(error) } satisfies WorkerReply);
  }
}

/**
 * Makes PGlite leave `types` (and the array types of any of them, whose PGlite parsers parse each
 * element with the element type's parser) as raw text in every result, by replacing their parsers in
 * the instance's own table. Returns what the caller's thread needs to parse them as PGlite would have:
 * the raw types, and the element type of each that PGlite parses as an array.
 */
async function leaveRaw(pg: PGlite, types: number[]): Promise<{ raw: number[]; arrays: [number, number][] }> {
  // PGlite's own query for its array parsers (_initArrayTypes): each element type with its array type.
  const { rows } = await pg.query<{ oid: number | null; typarray: number | null }>(`
    SELECT b.oid, b.typarray
    FROM pg_catalog.pg_type a
    LEFT JOIN pg_catalog.pg_type b ON b.oid = a.typelem
    WHERE a.typcategory = 'A'
    GROUP BY b.oid, b.typarray
    ORDER BY b.oid`);
  const elementOf = new Map<number, number>();
  for (const { oid, typarray } of rows) if (oid !== null && typarray !== null) elementOf.set(typarray, oid);
  const raw = new Set(types);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [array, element] of elementOf) {
      if (raw.has(element) && !raw.has(array)) {
        raw.add(array);
        grew = true;
      }
    }
  }
  const arrays = new Map<number, number>();
  const addArrays = (typeId: number) => {
    const element = elementOf.get(typeId);
    if (element === undefined || arrays.has(typeId)) return;
    arrays.set(typeId, element);
    addArrays(element);
  };
  for (const typeId of raw) {
    addArrays(typeId);
    pg.parsers[typeId] = identity;
    alwaysRaw.add(typeId);
  }
  return { raw: [...raw], arrays: [...arrays] };
}

async function main(): Promise<void> {
  const { dataDir, raw: rawTypes } = workerData as WorkerInit;
  let pg: PGlite;
  let raw: { raw: number[]; arrays: [number, number][] };
  try {
    pg = await PGlite.create(dataDir);
    raw = await leaveRaw(pg, rawTypes);
  } catch (error) {
    port.postMessage({ ready: false, error: toWire(error) } satisfies WorkerReady);
    return;
  }
  port.on('message', (request: WorkerRequest) => {
    run(pg, request).then(
      (value: unknown) => reply({ id: request.id, ok: true, value }),
      (error: unknown) => reply({ id: request.id, ok: false, error: toWire(error) }),
    );
  });
  port.postMessage({ ready: true, ...raw } satisfies WorkerReady);
}

void main();
