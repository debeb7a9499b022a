/**
 * The API thread's side of the PGlite worker's wire (see pglite-client.ts): query options sent as
 * WireQueryOptions, the columns the worker leaves raw parsed here as PGlite would have, and errors
 * rebuilt as the class PGlite threw.
 */
import {
  messages,
  TransactionAbortedError,
  types,
  type ParserOptions,
  type QueryOptions,
  type Results,
} from '@electric-sql/pglite';
import type { WireError, WireQueryOptions } from './pglite-protocol.js';

export type Parser = (value: string, typeId: number) => unknown;

/**
 * The types drizzle-orm/pglite (0.45) passes parsers for on every query (it keeps dates, times and
 * intervals, and numeric and date arrays, as text). The worker leaves them raw for every query, so
 * that drizzle's queries need no parsers in the worker (see WireQueryOptions.raw); other queries get
 * PGlite's own parsing of them here. Should drizzle ask for others, those queries are just slower.
 */
export const DRIZZLE_RAW_TYPES = [
  types.TIMESTAMP,
  types.TIMESTAMPTZ,
  types.INTERVAL,
  types.DATE,
  1231,
  1115,
  1185,
  1187,
  1182,
];

const NO_OPTIONS: WireQueryOptions = { raw: [] };
const UNSUPPORTED = ['serializers', 'blob', 'onNotice'] as const;
const wireOptionsOf = new WeakMap<QueryOptions, WireQueryOptions>();

export function wireOptions(options: QueryOptions | undefined): WireQueryOptions {
  if (!options) return NO_OPTIONS;
  let wire = wireOptionsOf.get(options);
  if (!wire) {
    for (const key of UNSUPPORTED) {
      if (options[key] !== undefined)
        throw new Error(`PGlite in a worker thread does not take the query option ${key}`);
    }
    const parsers = options.parsers ?? {};
    wire = {
      raw: Object.keys(parsers)
        .map(Number)
        .filter((typeId) => typeof parsers[typeId] === 'function'),
    };
    if (options.rowMode !== undefined) wire.rowMode = options.rowMode;
    if (options.paramTypes !== undefined) wire.paramTypes = options.paramTypes;
    wireOptionsOf.set(options, wire);
  }
  return wire;
}

/**
 * PGlite's own parser of each type the worker leaves raw, as the PGlite instance has it: its module's
 * parser of the type, or for an array type, its array parser over the element type's.
 */
export function pgliteParsers(raw: number[], arrays: [number, number][]): Map<number, Parser> {
  const elementOf = new Map(arrays);
  const parserOf = (typeId: number): Parser | undefined => {
    const element = elementOf.get(typeId);
    if (element === undefined) return (types.parsers as ParserOptions)[typeId];
    const parseElement = parserOf(element);
    return (value) => types.arrayParser(value, parseElement as types.Parser, typeId);
  };
  const parsers = new Map<number, Parser>();
  for (const typeId of raw) {
    const parse = parserOf(typeId);
    if (parse) parsers.set(typeId, parse);
  }
  return parsers;
}

/**
 * Parses the columns the worker left as raw text, as PGlite would have: with the caller's parser of
 * the column's type if it gave one, else PGlite's own (a type with neither stays text). A null is
 * never parsed. Rows as objects keep, of two columns of one name, the last one's value.
 */
export function parseRawColumns(
  result: Results,
  options: QueryOptions | undefined,
  raw: ReadonlySet<number>,
  pgliteParsers: ReadonlyMap<number, Parser>,
): void {
  if (result.rows.length === 0) return;
  const own = options?.parsers;
  const columns: { key: number | string; typeId: number; parse: Parser }[] = [];
  const add = (key: number | string, typeId: number) => {
    const given = own?.[typeId];
    const parse = typeof given === 'function' ? given : raw.has(typeId) ? pgliteParsers.get(typeId) : undefined;
    if (parse) columns.push({ key, typeId, parse });
  };
  if (options?.rowMode === 'array') {
    result.fields.forEach(({ dataTypeID }, index) => add(index, dataTypeID));
  } else {
    const typeOf = new Map<string, number>();
    for (const { name, dataTypeID } of result.fields) typeOf.set(name, dataTypeID);
    for (const [name, typeId] of typeOf) add(name, typeId);
  }
  if (columns.length === 0) return;
  for (const row of result.rows as Record<number | string, unknown>[]) {
    for (const { key, typeId, parse } of columns) {
      const value = row[key];
      if (value !== null && value !== undefined) row[key] = parse(value as string, typeId);
    }
  }
}

const STANDARD_ERRORS: Record<string, ErrorConstructor> = {
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** An error from the worker, rebuilt here as PGlite threw it. */
export function fromWire(wire: WireError, params?: unknown[], options?: QueryOptions): unknown {
  if (wire.kind === 'value') return 'value' in wire ? wire.value : new Error(wire.message);
  let error: Error;
  if (wire.kind === 'transaction-aborted') error = new TransactionAbortedError();
  else if (wire.kind === 'database')
    error = new messages.DatabaseError(
      wire.message,
      Number(wire.fields.length ?? 0),
      wire.fields.name as messages.MessageName,
    );
  else {
    error = new (STANDARD_ERRORS[wire.name] ?? Error)(wire.message);
    if (error.name !== wire.name) error.name = wire.name;
  }
  Object.assign(error, wire.fields);
  const target = error as Error & { params?: unknown; queryOptions?: unknown };
  for (const key of wire.attached) {
    if (key === 'params') target.params = params;
    else target.queryOptions = options;
  }
  return error;
}
