/**
 * The database's size after N inline creates (issue 22's evidence: media out of the database).
 *
 *   cd bench && node -C source --import tsx src/db-size.ts 10000 [postgres://postgres@127.0.0.1:5432/postgres]
 *
 * Creates a fresh database on that server, starts the API from the sources (compiled build not
 * needed) with the sandbox simulator and a temporary data dir, sends N `createAvatarVideo` with the
 * sample portrait and speech inline (base64, 16 at a time), waits until none is PENDING, then prints
 * pg_database_size, the media_objects and tasks tables' total sizes and the bytes under the data dir's
 * media/ (the file store), and drops the database.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { loadConfig, SANDBOX_KLING_API_KEY } from '@clipwire/api/config';
import { buildApp } from '@clipwire/api/http/app';
import { startSimulator } from '../../packages/providers/src/simulator/index.js';

const count = Number(process.argv[2] ?? 1000);
const serverUrl = process.argv[3] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const fixtures = join(import.meta.dirname, '..', '..', 'packages', 'providers', 'media', 'fixtures');
const input = {
  image: { base64: readFileSync(join(fixtures, 'portrait-512x640.png')).toString('base64') },
  audio: { base64: readFileSync(join(fixtures, 'speech-3s.mp3')).toString('base64') },
};

function bytesUnder(dir: string): number {
  let total = 0;
  try {
    for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
      const info = statSync(join(dir, entry));
      if (info.isFile()) total += info.size;
    }
  } catch {
    return 0;
  }
  return total;
}

const name = `clipwire_size_${randomBytes(4).toString('hex')}`;
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const dataDir = mkdtempSync(join(tmpdir(), 'clipwire-size-'));
const sim = await startSimulator({
  kling: { apiKey: SANDBOX_KLING_API_KEY, timing: { processingAfterMs: 200, succeedAfterMs: 500 } },
});
const config = loadConfig({
  NODE_ENV: 'production',
  PORT: '0',
  HOST: '127.0.0.1',
  CLIPWIRE_DATA_DIR: dataDir,
  DATABASE_URL: url.toString(),
  LOG_LEVEL: 'warn',
  API_RATE_LIMIT_PER_SECOND: '100000',
  API_RATE_LIMIT_BURST: '1000000',
  KLING_CONCURRENCY: '10000',
});
const app = await buildApp({ config, sandboxUrl: sim.url });
const api = await app.start();
const key = app.sandboxApiKey!;
const db = postgres(url.toString(), { max: 1, onnotice: () => {} });
try {
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        next++;
        const res = await fetch(`${api}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({
            query: 'mutation ($input: CreateAvatarVideoInput!) { createAvatarVideo(input: $input) { __typename } }',
            variables: { input },
          }),
        });
        const body = (await res.json()) as { data?: { createAvatarVideo?: { __typename: string } } };
        if (body.data?.createAvatarVideo?.__typename !== 'Task') throw new Error(JSON.stringify(body));
      }
    }),
  );
  const createSeconds = (Date.now() - started) / 1000;
  for (;;) {
    const [row] = await db`select count(*)::int as n from tasks where status = 'PENDING'`;
    if (row!.n === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const [size] = await db`select pg_database_size(current_database())::bigint as db,
    pg_total_relation_size('media_objects')::bigint as media, pg_total_relation_size('tasks')::bigint as tasks,
    (select count(*)::int from media_objects) as media_rows`;
  console.log(
    JSON.stringify({
      creates: count,
      createSeconds,
      databaseBytes: Number(size!.db),
      mediaObjectsTableBytes: Number(size!.media),
      tasksTableBytes: Number(size!.tasks),
      mediaRows: size!.media_rows,
      fileStoreBytes: bytesUnder(join(dataDir, 'media')),
    }),
  );
} finally {
  await db.end();
  await app.stop();
  await sim.stop();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
}
