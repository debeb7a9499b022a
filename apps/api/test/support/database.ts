import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { DatabaseTarget } from '../../src/db/client.js';

export interface TestDatabase {
  target: DatabaseTarget;
  /** The DATABASE_URL-style value for a child process, or undefined for embedded PGlite. */
  url: string | undefined;
  drop(): Promise<void>;
}

/**
 * An empty database for one test file: in-memory PGlite by default, or, when DATABASE_URL is set,
 * a fresh database on that server (so test files can run in parallel without sharing rows).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) return { target: { kind: 'pglite', dataDir: 'memory://' }, url: undefined, drop: async () => {} };
  const name = `clipwire_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    target: { kind: 'postgres', url: url.toString() },
    url: url.toString(),
    async drop() {
      const a = postgres(serverUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}
