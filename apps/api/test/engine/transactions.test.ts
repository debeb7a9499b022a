import { randomBytes } from 'node:crypto';
import { startSimulator, type Simulator } from '@clipwire/providers/simulator';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant } from '../../src/auth/api-keys.js';
import { loadConfig, SANDBOX_KLING_API_KEY } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';
import { buildApp, type App } from '../../src/http/app.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT } from '../support/stack.js';

/**
 * What a task costs the database, counted by PostgreSQL itself: `pg_stat_database.xact_commit` of a
 * fresh database (every statement outside an explicit transaction is one), read from another database
 * so that reading it costs nothing here. A backend reports its counts when it has been idle a while or
 * when it exits, so each measured phase ends with the app stopped (its pool closed) and the counter
 * read until it settles. Runs on the PostgreSQL server of DATABASE_URL, or the local one (PGlite keeps
 * no such statistics).
 *
 * Phases, each a start → work → stop of the real app (worker, poller, callbacks) on the same database:
 * A one request (the cost of starting and stopping, and of a key's first use), B the same then idle for
 * IDLE_MS, C the same then TASKS Kling avatar tasks with
 * inline media from create to SUCCEEDED, moved by Kling's signed callbacks (submitted, processing,
 * succeed). B − A is the idle cost; (C − A − idle × C's extra time) ÷ TASKS is a task's.
 */
const SERVER = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const IDLE_MS = 10_000;
const TASKS = 8;
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

let admin: postgres.Sql;
let dbName: string;
let dbUrl: string;
let sim: Simulator;
let apiKey: string;

beforeAll(async () => {
  admin = postgres(SERVER, { max: 1, onnotice: () => {} });
  dbName = `clipwire_t_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`create database ${dbName}`);
  const url = new URL(SERVER);
  url.pathname = `/${dbName}`;
  dbUrl = url.toString();
  const fast = { processingAfterMs: 300, succeedAfterMs: 700 };
  sim = await startSimulator({ kling: { apiKey: SANDBOX_KLING_API_KEY, timing: fast, webhookSecret: SECRET } });
  // The schema and a key, before anything is counted.
  const setup = await openDatabase({ kind: 'postgres', url: dbUrl });
  try {
    const tenantId = await createTenant(setup.db, 'transactions');
    apiKey = (await createApiKey(setup.db, tenantId, 'transactions test')).key;
  } finally {
    await setup.close();
  }
});

afterAll(async () => {
  await sim?.stop();
  await admin?.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin?.end();
});

async function commits(): Promise<number> {
  const [row] = await admin<{ n: string }[]>`
    select pg_stat_clear_snapshot(), xact_commit::text as n from pg_stat_database where datname = ${dbName}`;
  return Number(row!.n);
}

/** The counter once every backend of the stopped app has reported: unchanged for 1.5 s. */
async function settledCommits(): Promise<number> {
  let last = await commits();
  let since = Date.now();
  return eventually(
    async () => {
      const now = await commits();
      if (now !== last) {
        last = now;
        since = Date.now();
        return null;
      }
      return Date.now() - since >= 1500 ? now : null;
    },
    20_000,
    'the commit counter to settle',
  );
}

async function startApp(): Promise<App> {
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    KLING_BASE_URL: sim.url,
    KLING_WEBHOOK_SECRET: SECRET,
    API_RATE_LIMIT_PER_SECOND: '1000',
    API_RATE_LIMIT_BURST: '1000',
    // The engine's cost from create to SUCCEEDED; copying the outputs afterwards is the archive's
    // (README, "Outputs kept after the provider deletes them").
    ARCHIVE_OUTPUTS: 'false',
  });
  const app = await buildApp({ config });
  await app.start();
  return app;
}

/** Commits made by one start → `work` → stop of the app, and how long it ran. */
async function phase(work: (app: App) => Promise<void>): Promise<{ commits: number; ms: number }> {
  const before = await settledCommits();
  const started = Date.now();
  const app = await startApp();
  try {
    await work(app);
  } finally {
    await app.stop();
  }
  const ms = Date.now() - started;
  return { commits: (await settledCommits()) - before, ms };
}

async function gql(app: App, query: string, variables: Record<string, unknown>) {
  const res = await fetch(`${app.url()}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
}

describe('database transactions, counted by PostgreSQL (pg_stat_database.xact_commit)', () => {
  it(`an idle instance commits at most 1 transaction per second, and a Kling task from create to SUCCEEDED with its three callbacks at most 5`, {
    timeout: 120_000,
  }, async () => {
    // Every phase makes one authenticated request first: the key's lookup and its last-used write (at
    // most once a minute per key) are the caller's, not a task's, and are subtracted with the rest of A.
    const firstRequest = async (app: App) => {
      const res = await gql(app, '{ __typename }', {});
      expect(res.data?.__typename).toBe('Query');
    };
    const bare = await phase(firstRequest);
    const idle = await phase(async (app) => {
      await firstRequest(app);
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS)); // the measured interval, not a wait for a condition
    });
    const idlePerSecond = Math.max(0, (idle.commits - bare.commits) / ((idle.ms - bare.ms) / 1000));

    // The test's own reads go through this connection, on the measured database: counted, then subtracted.
    const reader = postgres(dbUrl, { max: 1, onnotice: () => {} });
    let reads = 0;
    const tasks = await phase(async (app) => {
      await firstRequest(app);
      const ids: string[] = [];
      for (let i = 0; i < TASKS; i++) {
        const created = await gql(app, CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: `tx-${i}` } });
        expect(created.data?.createAvatarVideo?.__typename, JSON.stringify(created)).toBe('Task');
        ids.push(created.data!.createAvatarVideo.id);
      }
      await eventually(
        async () => {
          reads++;
          const [row] = await reader<{ n: number }[]>`select count(*)::int as n from tasks where status = 'SUCCEEDED'`;
          return row!.n === TASKS;
        },
        60_000,
        `the ${TASKS} tasks to succeed`,
      );
      // Each task moved by its callbacks alone: three callbacks each reached the API (the simulator
      // records a callback's answer after the API has committed it, so the count may trail briefly).
      await eventually(
        async () => sim.kling.sentCallbacks().filter((c) => c.status === 200).length >= 3 * TASKS,
        10_000,
        `${3 * TASKS} callbacks answered 200`,
      );
    });
    await reader.end();
    const perTask = (tasks.commits - reads - bare.commits - idlePerSecond * ((tasks.ms - bare.ms) / 1000)) / TASKS;
    const figures = {
      bare,
      idle,
      idlePerSecond: Number(idlePerSecond.toFixed(2)),
      tasks,
      reads,
      perTask: Number(perTask.toFixed(2)),
    };
    console.info(`[transactions] ${JSON.stringify(figures)}`);

    expect(idlePerSecond, JSON.stringify(figures)).toBeLessThanOrEqual(1);
    expect(perTask, JSON.stringify(figures)).toBeLessThanOrEqual(5);
  });
});
