import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import * as tables from '@clipwire/schema/tables';
import { migrationsFolder } from '@clipwire/schema/migrations-folder';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres, PostgresJsDatabase, PostgresJsSession } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { PgliteWorkerClient } from './pglite-client.js';

export type Schema = typeof tables;
/** The code above the driver sees only this type, whichever driver runs underneath. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
export type DbOrTx = Database | Tx;

export type DatabaseTarget = { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };

export interface DatabaseHandle {
  db: Database;
  driver: 'pglite' | 'postgres';
  /** True once the migrations shipped with this build are all applied. */
  migrationsApplied(): Promise<boolean>;
  ping(): Promise<void>;
  /**
   * Runs `fn` as one tenant: on Postgres each of its statements runs in its own short transaction as
   * the non-owner role clipwire_app with clipwire.tenant_id set, so row-level security hides every
   * other tenant's rows (see tenantDatabase). On PGlite (one superuser, where RLS cannot apply) it
   * runs on the database directly.
   */
  asTenant<T>(tenantId: string, fn: (db: DbOrTx) => Promise<T>): Promise<T>;
  /** Whether asTenant really runs under row-level security. */
  rowLevelSecurity: boolean;
  /** Postgres LISTEN (other processes' NOTIFY); absent on PGlite, where there are no other processes. */
  listen?(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Opens the database and applies the drizzle-kit migrations with the driver's own migrator. */
export async function openDatabase(target: DatabaseTarget): Promise<DatabaseHandle> {
  if (target.kind === 'postgres') {
    await migrateWithLock(target.url);
    const client = postgres(target.url, { max: 10, onnotice: () => {} });
    const db = drizzlePostgres(client, { schema: tables });
    const [role] = await client<{ ok: boolean }[]>`
      select exists (select 1 from pg_roles where rolname = 'clipwire_app' and pg_has_role(current_user, oid, 'MEMBER')) as ok`;
    const rls = role?.ok === true;
    const base = handle(db as unknown as Database, 'postgres', () => client.end({ timeout: 5 }));
    return {
      ...base,
      rowLevelSecurity: rls,
      asTenant: rls ? (tenantId, fn) => fn(tenantDatabase(client, base.db, tenantId)) : (_tenantId, fn) => fn(base.db),
      async listen(channel, onNotify) {
        const { unlisten } = await client.listen(channel, (payload) => onNotify(payload));
        return unlisten;
      },
    };
  }
  const memory = target.dataDir.startsWith('memory://');
  // PGlite does not create the data dir's parent folder itself.
  if (!memory) mkdirSync(target.dataDir, { recursive: true });
  const unlock = memory ? () => {} : lockDataDir(target.dataDir);
  try {
    // PGlite runs in a worker thread (see pglite-client.ts): its statements run beside the event loop,
    // not on it. Drizzle drives it as it drives PGlite, through the client's PGlite-shaped API.
    const client = await PgliteWorkerClient.start(memory ? target.dataDir : join(target.dataDir, 'pglite'));
    const db = drizzlePglite(client as unknown as PGlite, { schema: tables });
    try {
      await migratePglite(db, { migrationsFolder });
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    const base = handle(db as unknown as Database, 'pglite', async () => {
      await client.close();
      unlock();
    });
    return { ...base, rowLevelSecurity: false, asTenant: (_tenantId, fn) => fn(base.db) };
  } catch (error) {
    unlock();
    throw error;
  }
}

/**
 * asTenant on Postgres: a database each of whose statements runs in its own transaction as the tenant,
 * on a connection reserved for that statement: BEGIN, SET LOCAL of the tenant and role (one statement:
 * the role is a setting like any other), the statement and COMMIT go out in one round trip, and the
 * connection goes back to the pool once all four have answered. Should BEGIN or the settings fail, the
 * statement fails with them (the transaction is aborted); should the statement fail, COMMIT ends the
 * aborted transaction as a ROLLBACK. A read costs one round trip, an operation that reads nothing costs
 * none, and no connection is held while resolvers run. The statements of one `fn` do not share a
 * snapshot — under READ COMMITTED, which these transactions used when they spanned `fn`, they never did.
 * Made as drizzle makes its databases, over a client that offers what drizzle's session calls (`unsafe`);
 * no transactions inside (nothing tenant-scoped needs one).
 */
function tenantDatabase(client: postgres.Sql, db: Database, tenantId: string): Database {
  type SessionArgs = ConstructorParameters<typeof PostgresJsSession>;
  const { dialect, schema, options } = db._.session as unknown as {
    dialect: SessionArgs[1];
    schema: SessionArgs[2];
    options: SessionArgs[3];
  };
  const scoped = {
    unsafe(text: string, params?: postgres.ParameterOrJSON<never>[], queryOptions?: postgres.UnsafeQueryOptions) {
      let values = false;
      let result: Promise<unknown> | undefined;
      // What drizzle does with postgres.js's pending query: `.values()` (rows as arrays), then await it.
      const pending = {
        values() {
          values = true;
          return pending;
        },
        // biome-ignore lint/suspicious/noThenProperty: drizzle awaits postgres.js's pending query, a thenable
        then<A, B>(
          onFulfilled?: (rows: unknown) => A | PromiseLike<A>,
          onRejected?: (error: unknown) => B | PromiseLike<B>,
        ) {
          result ??= tenantStatement(client, tenantId, (connection) => {
            const query = connection.unsafe(text, params, queryOptions);
            return values ? query.values() : query;
          });
          return result.then(onFulfilled, onRejected);
        },
      };
      return pending;
    },
    begin() {
      return Promise.reject(
        new Error('a tenant-scoped database runs each statement in its own transaction: it has no transactions inside'),
      );
    },
  };
  const session = new PostgresJsSession(scoped as unknown as SessionArgs[0], dialect, schema, options);
  // (drizzle's types tie the relational schema to the client's generic; it is the database's own.)
  return new PostgresJsDatabase(dialect, session, schema as never) as unknown as Database;
}

async function tenantStatement(
  client: postgres.Sql,
  tenantId: string,
  statement: (connection: postgres.ReservedSql) => { execute(): Promise<unknown> },
): Promise<unknown> {
  const connection = await client.reserve();
  try {
    // Built first (postgres.js sends a query when it is executed, not when it is made), so that nothing
    // can throw between BEGIN going out and COMMIT; then issued together, in this order (a connection
    // runs its statements in the order issued), and all settled before the connection goes back.
    const steps = [
      connection`begin`,
      connection`select set_config('clipwire.tenant_id', ${tenantId}, true), set_config('role', 'clipwire_app', true)`,
      statement(connection),
      connection`commit`,
    ];
    const settled = await Promise.allSettled(steps.map((step) => step.execute()));
    const failed = settled.find((step) => step.status === 'rejected');
    if (failed) throw failed.reason;
    return (settled[2] as PromiseFulfilledResult<unknown>).value;
  } finally {
    connection.release();
  }
}

/**
 * Processes booting together on one database migrate one at a time: the first applies the
 * migrations, the others find them applied. (A session-level advisory lock on one connection.)
 */
async function migrateWithLock(url: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(7243002)`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
  } finally {
    await client.end({ timeout: 5 });
  }
}

export class DataDirInUseError extends Error {}

/**
 * Embedded PGlite must have one process per data dir: a second one would corrupt it. A lock file
 * holds the owner's pid; a lock whose process is gone (killed) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, 'pglite.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DataDirInUseError(
          `${dataDir} is in use by process ${pid} (embedded PGlite allows one process per data dir): stop it first, or use DATABASE_URL`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new DataDirInUseError(`could not lock ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function handle(
  db: Database,
  driver: 'pglite' | 'postgres',
  close: () => Promise<void>,
): Omit<DatabaseHandle, 'asTenant' | 'rowLevelSecurity'> {
  return {
    db,
    driver,
    async migrationsApplied() {
      const { readMigrationFiles } = await import('drizzle-orm/migrator');
      const expected = readMigrationFiles({ migrationsFolder });
      const last = expected.at(-1);
      if (!last) return true;
      const rows = await db.execute(
        sql`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`,
      );
      const applied = Number(rowsOf<{ created_at: string }>(rows)[0]?.created_at ?? 0);
      return applied >= last.folderMillis;
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    close,
  };
}

/** postgres.js returns an array of rows, PGlite an object with `rows`; code above the driver uses this. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
