import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { migrationsFolder } from '@clipwire/schema/migrations-folder';
import { jobs, mediaObjects } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle, type DatabaseTarget } from '../../src/db/client.js';
import { JobQueue } from '../../src/jobs/queue.js';
import { createLogger } from '../../src/logger.js';
import { FIRST_SWEEP_AFTER_MS, MAINTENANCE_JOBS, MediaLifecycle } from '../../src/media/lifecycle.js';
import { MediaStore } from '../../src/media/store.js';
import { FsStore } from '../../src/storage/fs-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** The last migration before media moved to the object store. */
const BEFORE = '0005_input_fingerprint';

/** A copy of the migrations folder that stops at BEFORE: the schema an existing install has. */
function migrationsUpTo(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'clipwire-migrations-'));
  cpSync(migrationsFolder, dir, { recursive: true });
  const journalPath = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; tag: string }[] };
  const last = journal.entries.findIndex((e) => e.tag === tag);
  expect(last).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(journalPath, JSON.stringify(journal));
  return dir;
}

/** The store, failing every write after the first `allowed` (an interruption in the middle of a batch). */
function failingAfter(store: ObjectStore, allowed: number): ObjectStore {
  let puts = 0;
  return Object.assign(Object.create(store) as ObjectStore, {
    put: (...args: Parameters<ObjectStore['put']>) => {
      if (++puts > allowed) return Promise.reject(new Error('the store went away'));
      return store.put(...args);
    },
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const LEGACY_ROWS = 253;

let database: TestDatabase | undefined;
let pgliteDir: string | undefined;
let target: DatabaseTarget;
let partial: string;
let handle: DatabaseHandle;
let files: FsStore;
const tenantId = randomUUID();
const pendingTaskId = randomUUID();
const original = new Map<string, Buffer>();
const [imageId, audioId] = [randomUUID(), randomUUID()];

/** Writes rows as Clipwire did before the object store: media bytes in media_objects.bytes. */
async function writeLegacyRows(query: (text: string, params: unknown[]) => Promise<unknown>): Promise<void> {
  await query('insert into tenants (id, name) values ($1, $2)', [tenantId, 'legacy']);
  const request = { image: { mediaId: imageId }, sound_file: { mediaId: audioId }, mode: 'std' };
  await query(
    `insert into tasks (id, tenant_id, kind, provider, model, status, input, provider_request)
     values ($1, $2, 'AVATAR_VIDEO', 'KLING', 'kling-avatar-std', 'PENDING', '{}'::jsonb, $3::jsonb)`,
    [pendingTaskId, tenantId, JSON.stringify(request)],
  );
  for (let i = 0; i < LEGACY_ROWS; i++) {
    const id = i === 0 ? imageId : i === 1 ? audioId : randomUUID();
    const bytes = randomBytes(1000 + i);
    original.set(id, bytes);
    await query(
      'insert into media_objects (id, tenant_id, sha256, mime, size_bytes, bytes) values ($1, $2, $3, $4, $5, $6)',
      [id, tenantId, sha256(bytes), i === 1 ? 'audio/mpeg' : 'image/png', bytes.length, bytes],
    );
  }
}

beforeAll(async () => {
  partial = migrationsUpTo(BEFORE);
  if (process.env.DATABASE_URL) {
    database = await createTestDatabase();
    target = database.target;
    const client = postgres(database.url!, { max: 1, onnotice: () => {} });
    await migratePostgres(drizzlePostgres(client), { migrationsFolder: partial });
    await writeLegacyRows((text, params) => client.unsafe(text, params as never[]));
    await client.end();
  } else {
    pgliteDir = mkdtempSync(join(tmpdir(), 'clipwire-legacy-'));
    target = { kind: 'pglite', dataDir: pgliteDir };
    const pg = new PGlite(join(pgliteDir, 'pglite'));
    await migratePglite(drizzlePglite(pg), { migrationsFolder: partial });
    await writeLegacyRows((text, params) => pg.query(text, params));
    await pg.close();
  }
  // The upgrade: this build's migrations, then the move.
  handle = await openDatabase(target);
  files = await FsStore.open('memory://');
});
afterAll(async () => {
  await handle?.close();
  await files?.close();
  await database?.drop();
  if (pgliteDir) rmSync(pgliteDir, { recursive: true, force: true });
  rmSync(partial, { recursive: true, force: true });
});

const rows = () => handle.db.select().from(mediaObjects);
const lifecycle = (store: ObjectStore) =>
  new MediaLifecycle(handle.db, store, new JobQueue(handle.db), createLogger('silent'), 7);

describe('media kept in the database before the object store (bytea rows)', () => {
  it('keep working after the schema migration, before they are moved: read from the database, linked to their pending task', async () => {
    const all = await rows();
    expect(all).toHaveLength(LEGACY_ROWS);
    expect(all.every((r) => r.bytes !== null && r.storageKey === null)).toBe(true);
    // The pending task's media are now linked to it (retention and erasure find them by task).
    const linked = all.filter((r) => r.taskId === pendingTaskId).map((r) => r.id);
    expect(linked.sort()).toEqual([imageId, audioId].sort());
    const media = await MediaStore.open(handle.db, files);
    expect((await media.bytes((await media.get(imageId))!)).equals(original.get(imageId)!)).toBe(true);
  });

  it('are moved into the store in committed batches; an interrupted move keeps what it committed, rolls back the rest, and a re-run finishes it', async () => {
    // A start queues the move while rows keep their bytes (and the first retention sweep, not now).
    expect(await lifecycle(files).schedule()).toBe(true);
    // The store fails half-way through the second batch of 100.
    await expect(lifecycle(failingAfter(files, 150)).moveLegacy(100)).rejects.toThrow('the store went away');
    let all = await rows();
    const moved = all.filter((r) => r.storageKey !== null);
    expect(moved).toHaveLength(100);
    expect(moved.every((r) => r.bytes === null)).toBe(true);
    expect(all.filter((r) => r.storageKey === null).every((r) => r.bytes !== null)).toBe(true);

    expect(await lifecycle(files).moveLegacy(100)).toBe(LEGACY_ROWS - 100);
    expect(await lifecycle(files).moveLegacy(100)).toBe(0);
    all = await rows();
    const media = await MediaStore.open(handle.db, files);
    for (const row of all) {
      expect(row.bytes).toBeNull();
      expect(row.storageKey).toBe(`inputs/${tenantId}/${row.id}`);
      const bytes = await media.bytes(row);
      expect(sha256(bytes)).toBe(row.sha256);
      expect(bytes.equals(original.get(row.id)!)).toBe(true);
    }
    const stored = await files.get(`inputs/${tenantId}/${audioId}`);
    expect(stored?.contentType).toBe('audio/mpeg');

    // Once none is left, a start queues no move (its queued job ran), only the sweep already queued.
    await handle.db.delete(jobs).where(eq(jobs.dedupeKey, MAINTENANCE_JOBS.legacyMedia.dedupeKey));
    expect(await lifecycle(files).schedule()).toBe(false);
    const queued = await handle.db.select().from(jobs);
    expect(queued.map((j) => j.dedupeKey)).toEqual([MAINTENANCE_JOBS.inputRetention.dedupeKey]);
    expect(queued[0]!.runAt.getTime()).toBeGreaterThan(Date.now() + FIRST_SWEEP_AFTER_MS - 60_000);
  });
});
