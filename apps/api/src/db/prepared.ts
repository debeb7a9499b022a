import { getTableName, sql, type Column, type Placeholder, type SQL, type Table } from 'drizzle-orm';
import type { DbOrTx } from './client.js';

/** Statements built so far, per driver (session class) and key. */
const templates = new Map<object, Map<string, object>>();
let names = 0;

/**
 * A statement built once per driver and `key`, then run with placeholder values, on the database or
 * inside a transaction alike. Drizzle builds a query's SQL text on every call, and for the statements
 * every callback, create and page runs, that cost more CPU than the database spent on them; a prepared
 * query keeps its text (and on postgres.js the server-side prepared statement) and only binds values.
 *
 * `key` names the statement's text, in one namespace for the whole program. A caller whose text
 * varies (the fields an UPDATE sets, how many values an IN list has) puts what varies in the key.
 * `build` runs once, on whichever database or transaction first asks; each caller then gets the
 * statement bound to its own client (a drizzle prepared query holds its driver client, the one thing
 * that differs between a database and its transactions, or between two databases of one driver).
 */
export function prepared<Q extends object>(db: DbOrTx, key: string, build: (name: string) => Q): Q {
  const session = db._.session as unknown as { client: unknown };
  let statements = templates.get(session.constructor);
  if (!statements) templates.set(session.constructor, (statements = new Map()));
  let template = statements.get(key);
  if (template === undefined) {
    template = build(`clipwire_${++names}`);
    // The template keeps no client of its own: the database or transaction that built it may go.
    (template as { client: unknown }).client = null;
    statements.set(key, template);
  }
  return Object.create(template, { client: { value: session.client } }) as Q;
}

const ids = new WeakMap<object, number>();
let nextId = 0;

/** A number for an object, the same for as long as it lives: for keys of statements that embed one (a SQL fragment). */
export function identityOf(value: object): number {
  let id = ids.get(value);
  if (id === undefined) ids.set(value, (id = ++nextId));
  return id;
}

/**
 * A placeholder per field, named as the field with `suffix` (for the rows of a multi-row INSERT): the
 * SET or VALUES of a statement prepared with `run` or `prepared`, bound with `driverValues`.
 */
export function fieldPlaceholders(names: readonly string[], suffix: string | number = ''): Record<string, SQL> {
  return Object.fromEntries(names.map((name) => [name, sql`${sql.placeholder(`${name}${suffix}`)}`]));
}

/**
 * `fields`' values for `fieldPlaceholders`, each encoded as drizzle binds a value for its column in
 * `table`, except that a null stays SQL NULL (drizzle's placeholder encoder would make a jsonb null
 * `'null'` and throw on a null date).
 */
export function driverValues(
  table: Table,
  fields: Record<string, unknown>,
  suffix: string | number = '',
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    const column = (table as unknown as Record<string, Column | undefined>)[name];
    if (!column) throw new Error(`${getTableName(table)} has no column ${name}`);
    values[`${name}${suffix}`] = value === null ? null : column.mapToDriverValue(value);
  }
  return values;
}

/** Placeholders for a list of `count` values (an IN list), named `name0`, `name1`…; bound with `listValues`. */
export function listPlaceholders(name: string, count: number): Placeholder[] {
  return Array.from({ length: count }, (_, i) => sql.placeholder(`${name}${i}`));
}

/** A list's values for `listPlaceholders`. */
export function listValues(name: string, list: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(list.map((value, i) => [`${name}${i}`, value]));
}

/** A query that can be prepared (drizzle's select, insert, update, delete). */
interface Preparable<R> {
  prepare(name: string): { execute(values?: Record<string, unknown>): Promise<R> };
}

/** Runs `build`'s query with `values`, prepared once per driver and `key` (see `prepared`). */
export function run<R>(
  db: DbOrTx,
  key: string,
  build: (db: DbOrTx) => Preparable<R>,
  values: Record<string, unknown>,
): Promise<R> {
  return prepared(db, key, (name) => build(db).prepare(name)).execute(values);
}
