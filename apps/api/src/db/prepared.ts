import { PgTransaction } from 'drizzle-orm/pg-core';
import type { Database, DbOrTx } from './client.js';

const byDb = new WeakMap<Database, Map<string, unknown>>();
let names = 0;

/**
 * A statement built once per database and `key`, then run with placeholder values. Drizzle builds a
 * query's SQL text on every call, and for the statements every callback and create runs, that cost
 * more CPU than the database spent on them; a prepared query keeps its text (and on postgres.js the
 * server-side prepared statement) and only binds values.
 *
 * `key` names the statement's text: a caller whose text varies (the fields an UPDATE sets) puts what
 * varies in the key. Prepared queries run on the database itself, never inside a transaction.
 */
export function prepared<Q>(db: Database, key: string, build: (name: string) => Q): Q {
  let statements = byDb.get(db);
  if (!statements) byDb.set(db, (statements = new Map()));
  let query = statements.get(key) as Q | undefined;
  if (query === undefined) statements.set(key, (query = build(`clipwire_${++names}`)));
  return query;
}

const ids = new WeakMap<object, number>();
let nextId = 0;

/** A number for an object, the same for as long as it lives: for keys of statements that embed one (a SQL fragment). */
export function identityOf(value: object): number {
  let id = ids.get(value);
  if (id === undefined) ids.set(value, (id = ++nextId));
  return id;
}

/** A query that can be prepared, or run as it is with placeholder values (drizzle's select, insert, update, delete). */
interface Preparable<R> {
  prepare(name: string): { execute(values?: Record<string, unknown>): Promise<R> };
  execute(values?: Record<string, unknown>): Promise<R>;
}

/**
 * Runs `build`'s query with `values`: prepared once per database and `key`; inside a transaction
 * (which a prepared query would run outside of) built afresh.
 */
export function run<R>(db: DbOrTx, key: string, build: (db: DbOrTx) => Preparable<R>, values: Record<string, unknown>): Promise<R> {
  if (db instanceof PgTransaction) return build(db).execute(values);
  return prepared(db, key, (name) => build(db).prepare(name)).execute(values);
}
