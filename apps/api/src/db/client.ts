import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import * as tables from '@clipwire/schema/tables';
import { migrationsFolder } from '@clipwire/schema/migrations-folder';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres, PostgresJsSession, PostgresJsTransaction } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

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
   * Runs `fn` as one tenant: on Postgres in a short transaction as the non-owner role clipwire_app
   * with clipwire.tenant_id set, so row-level security hides every other tenant's rows. On PGlite
   * (one superuser, where RLS cannot apply) it runs on the database directly.
   */
  asTenant<T>(tenantId: string, fn: (db: DbOrTx) => Promise<T>): Promise<T>;
  /** Whether asTenant really runs under row-level security. */
  rowLevelSecurity: boolean;
  /** Postgres LISTEN (other processes' NOTIFY); absent on PGlite, where there are no other processes. */
  listen?(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
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
      asTenant: rls ? (tenantId, fn) => tenantTransaction(client, base.db, tenantId, fn) : (_tenantId, fn) => fn(base.db),
      async listen(channel, onNotify) {
        const { unlisten } = await client.listen(channel, () => onNotify());
        return unlisten;
      },
    };
  }
  const memory = target.dataDir.startsWith('memory://');
  // PGlite does not create the data dir's parent folder itself.
  if (!memory) mkdirSync(target.dataDir, { recursive: true });
  const unlock = memory ? () => {} : lockDataDir(target.dataDir);
  try {
    const client = await PGlite.create(memory ? target.dataDir : join(target.dataDir, 'pglite'));
    const db = drizzlePglite(client, { schema: tables });
    await migratePglite(db, { migrationsFolder });
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
 * asTenant on Postgres: a transaction on a reserved connection, whose BEGIN, SET LOCAL of the tenant
 * and role (one statement: the role is a setting like any other) and fn's first statement go out in
 * one round trip (drizzle's `transaction` waits for BEGIN's answer first). They are issued before fn
 * can issue anything, and postgres.js runs a connection's statements in the order they were issued.
 * fn gets a drizzle transaction over that connection, made as drizzle's own `transaction` makes one,
 * without nested transactions (savepoints), which no tenant-scoped read uses.
 */
async function tenantTransaction<T>(client: postgres.Sql, db: Database, tenantId: string, fn: (db: DbOrTx) => Promise<T>): Promise<T> {
  type SessionArgs = ConstructorParameters<typeof PostgresJsSession>;
  const connection = await client.reserve();
  try {
    const { dialect, schema, options } = db._.session as unknown as { dialect: SessionArgs[1]; schema: SessionArgs[2]; options: SessionArgs[3] };
    const session = new PostgresJsSession(connection, dialect, schema, options);
    // (Drizzle's types want a transaction's kind of client, postgres.js TransactionSql, for its savepoints.)
    const tx = new PostgresJsTransaction(dialect, session as unknown as ConstructorParameters<typeof PostgresJsTransaction>[1], schema) as unknown as Tx;
    const begun = Promise.all([
      connection`begin`.execute(),
      connection`select set_config('clipwire.tenant_id', ${tenantId}, true), set_config('role', 'clipwire_app', true)`.execute(),
    ]);
    // Both settle before the connection goes back to the pool: should BEGIN or the settings fail, fn's
    // statements fail with them (and none of fn's can run on the connection once someone else has it).
    const [scoped, result] = await Promise.allSettled([begun, fn(tx)]);
    if (scoped.status === 'rejected') throw scoped.reason;
    if (result.status === 'rejected') throw result.reason;
    await connection`commit`;
    return result.value;
  } catch (error) {
    await connection`rollback`.catch(() => {});
    throw error;
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
      const rows = await db.execute(sql`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`);
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
