import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type KlingSimTiming, type Simulator } from '@clipwire/providers/simulator';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { request } from 'undici';
import WebSocket from 'ws';
import { SANDBOX_DIGITAL_HUMAN_API_KEY, SANDBOX_KIE_API_KEY, SANDBOX_KLING_API_KEY } from '../../src/config.js';
import { createTestDatabase } from '../support/database.js';
import { gql, MainProcess } from '../support/main-process.js';

/*
 * Support for the scale-out battery: Clipwire as real child processes (`node dist/main.js`,
 * the compiled build) in the roles of a deployment (migrate, api, worker) sharing one Postgres database
 * and one Redis, with the provider simulator in the test process (every process gets its URL as
 * KLING_/KIE_/DIGITAL_HUMAN_BASE_URL, so main.ts starts none of its own).
 */

const DEFAULT_PG_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

export interface Services {
  available: boolean;
  /** What is unreachable, for the skip message. */
  missing: string[];
}

/** Postgres (DATABASE_URL's server, or the local default) and Redis answer: the battery can run. */
export async function probeServices(): Promise<Services> {
  const missing: string[] = [];
  const pgUrl = process.env.DATABASE_URL || DEFAULT_PG_SERVER;
  const sql = postgres(pgUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    missing.push(`PostgreSQL at ${redact(pgUrl)} (${(error as Error).message})`);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    if ((await redis.ping()) !== 'PONG') throw new Error('no PONG');
  } catch (error) {
    missing.push(`Redis at ${redact(REDIS_URL)} (${(error as Error).message})`);
  } finally {
    redis.disconnect();
  }
  return { available: missing.length === 0, missing };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Probes once per file and warns, naming what is missing, when the battery has to be skipped. */
export async function servicesOrWarn(file: string): Promise<boolean> {
  const services = await probeServices();
  if (!services.available) {
    console.warn(
      `[${file}] SKIPPED: the scale-out battery needs PostgreSQL and Redis; unreachable: ${services.missing.join('; ')}`,
    );
  }
  return services.available;
}

export interface ClusterDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh Postgres database for one test file: on DATABASE_URL's server when it is set (the shared
 * helper), else on the local server, since separate processes cannot share embedded PGlite.
 */
export async function createClusterDatabase(): Promise<ClusterDatabase> {
  if (process.env.DATABASE_URL) {
    const db = await createTestDatabase();
    if (!db.url) throw new Error('expected a Postgres database with DATABASE_URL set');
    return { url: db.url, drop: () => db.drop() };
  }
  const name = `clipwire_cluster_${randomBytes(6).toString('hex')}`;
  const admin = postgres(DEFAULT_PG_SERVER, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(DEFAULT_PG_SERVER);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(DEFAULT_PG_SERVER, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

export { freePort, gql, type ChildExit, type GqlResult } from '../support/main-process.js';

export type Role = 'migrate' | 'api' | 'worker';

/** One Clipwire process in one of a deployment's roles. */
export class ClipwireProcess extends MainProcess {
  constructor(
    label: string,
    readonly role: Role,
    url: string,
    env: Record<string, string>,
  ) {
    super(label, url, env);
  }

  protected override title(): string {
    return `${this.label} (${this.role})`;
  }
}

export interface ClusterOptions {
  /** Kling avatar timing in the simulator. */
  klingTiming: KlingSimTiming;
  /** Environment common to every process (on top of the defaults below). */
  env?: Record<string, string>;
}

/**
 * One deployment: a fresh database, a data dir, the simulator, and the processes started on it.
 * `dispose()` SIGKILLs what is left (only the processes it started), stops the simulator and
 * drops the database.
 */
export class Cluster {
  readonly processes = new Set<ClipwireProcess>();
  apiKey = '';
  /** Where providers call back: set before the processes that submit are started. */
  publicBaseUrl = '';

  private constructor(
    readonly db: ClusterDatabase,
    readonly sim: Simulator,
    readonly dataDir: string,
    private readonly env: Record<string, string>,
  ) {}

  static async create(opts: ClusterOptions): Promise<Cluster> {
    const db = await createClusterDatabase();
    const sim = await startSimulator({
      host: '127.0.0.1',
      kling: { apiKey: SANDBOX_KLING_API_KEY, timing: opts.klingTiming, videoToAudioTiming: opts.klingTiming },
      kie: { apiKey: SANDBOX_KIE_API_KEY },
      digitalHuman: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY },
    });
    const dataDir = await mkdtemp(join(tmpdir(), 'clipwire-cluster-'));
    return new Cluster(db, sim, dataDir, opts.env ?? {});
  }

  /** The environment of one process: everything shared, plus its role and port. */
  childEnv(role: Role, port: number, extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      NODE_ENV: 'test',
      CLIPWIRE_ROLE: role,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      CLIPWIRE_DATA_DIR: this.dataDir,
      DATABASE_URL: this.db.url,
      REDIS_URL,
      // A base URL per provider in sandbox mode: main.ts starts no simulator of its own.
      KLING_BASE_URL: this.sim.url,
      KIE_BASE_URL: this.sim.url,
      DIGITAL_HUMAN_BASE_URL: this.sim.url,
      ...(this.publicBaseUrl ? { PUBLIC_BASE_URL: this.publicBaseUrl } : {}),
      POLL_INTERVAL_MS: '500',
      // The scale-out of the engine is under test: a task's events are its status changes (copying the
      // outputs is tested in test/outputs/, and needs a store the processes share: S3).
      ARCHIVE_OUTPUTS: 'false',
      // The tests poll and create many tasks with one key: per-key limits are not under test.
      API_RATE_LIMIT_PER_SECOND: '100000',
      API_RATE_LIMIT_BURST: '1000000',
      KLING_CONCURRENCY: '1000',
      ...this.env,
      ...extra,
    };
  }

  /** Applies the migrations with a one-shot CLIPWIRE_ROLE=migrate process, which must exit 0. */
  async migrate(): Promise<void> {
    const child = new ClipwireProcess('migrate', 'migrate', '', this.childEnv('migrate', 0));
    this.processes.add(child);
    const exit = await child.waitExit(60_000);
    if (exit.code !== 0) throw new Error(`migrate exited ${JSON.stringify(exit)}\n${child.logTail()}`);
  }

  /** Starts a process on a port chosen beforehand (pass one to know the URL before it is up). */
  start(label: string, role: 'api' | 'worker', port: number): ClipwireProcess {
    const url = `http://127.0.0.1:${port}`;
    const child = new ClipwireProcess(label, role, url, this.childEnv(role, port));
    this.processes.add(child);
    return child;
  }

  /** The sandbox key the first process created in the shared data dir. */
  async readApiKey(): Promise<string> {
    this.apiKey = (await readFile(join(this.dataDir, 'sandbox-api-key'), 'utf8')).trim();
    return this.apiKey;
  }

  /** A client of the cluster's database, for the checks made from the database itself. */
  sql(): postgres.Sql {
    return postgres(this.db.url, { max: 2, onnotice: () => {} });
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.kill()));
    await this.sim.stop();
    await rm(this.dataDir, { recursive: true, force: true });
    await this.db.drop();
  }
}

export async function gqlOk(
  target: ClipwireProcess,
  apiKey: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const res = await gql(target.url, apiKey, query, variables);
  if (!res.ok) throw new Error(`${target.label} did not answer: ${res.error}\n${target.logTail()}`);
  if (res.errors?.length || !res.data)
    throw new Error(`GraphQL errors from ${target.label}: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** GET a plain-text or JSON endpoint of a process. */
export async function httpGet(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url, { reset: true, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Sum of the samples of a Prometheus family whose labels include all of `labels`. */
export function metricSum(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export function wsClient(url: string, apiKey: string): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${apiKey}` },
    retryAttempts: 0,
    lazy: true,
  });
}

export interface FeedEvent {
  cursor: string;
  status: string;
  source: string;
  taskId: string;
  /** Which connection delivered it. */
  via: string;
}

export const TASK_EVENTS = /* GraphQL */ `
  subscription Feed($after: String) {
    taskEvents(after: $after) { id cursor status source task { id } }
  }
`;

/**
 * A client of the tenant feed that, when its connection dies, reconnects to the next API process
 * of its list and resumes with `after` = the last cursor it received, as the schema documents.
 */
export class ResumingFeed {
  readonly events: FeedEvent[] = [];
  /** Connection labels, in the order they were used, with what ended each. */
  readonly connections: { via: string; ended?: string }[] = [];
  private client: Client | undefined;
  private disposed = false;
  private index = 0;
  private readonly started: Promise<void>;
  private resolveStarted!: () => void;
  /** Set when no process of the list is left to resume on. */
  failure: string | undefined;

  constructor(
    private readonly targets: ClipwireProcess[],
    private readonly apiKey: string,
    private readonly initialAfter: string | null,
  ) {
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    this.connect();
  }

  get lastCursor(): string | null {
    return this.events.at(-1)?.cursor ?? this.initialAfter;
  }

  /** Resolves once the first subscription is acknowledged by the server (its first event or a short wait after connecting). */
  whenConnected(): Promise<void> {
    return this.started;
  }

  private connect(): void {
    const target = this.targets[this.index];
    if (!target) {
      this.failure = `no API process left after ${JSON.stringify(this.connections)}`;
      return;
    }
    const via = target.label;
    const entry: { via: string; ended?: string } = { via };
    this.connections.push(entry);
    const client = wsClient(target.url, this.apiKey);
    client.on('connected', () => this.resolveStarted());
    this.client = client;
    client.subscribe<{ taskEvents: { cursor: string; status: string; source: string; task: { id: string } } }>(
      { query: TASK_EVENTS, variables: { after: this.lastCursor } },
      {
        next: (value) => {
          const e = value.data?.taskEvents;
          if (!e) {
            entry.ended = `payload without data: ${JSON.stringify(value)}`;
            return;
          }
          this.events.push({ cursor: e.cursor, status: e.status, source: e.source, taskId: e.task.id, via });
        },
        error: (error) => {
          entry.ended = describeClose(error);
          void client.dispose();
          if (this.disposed) return;
          // The process behind this connection is gone: the next one resumes after the last cursor.
          this.index++;
          this.connect();
        },
        complete: () => {
          entry.ended ??= 'complete';
        },
      },
    );
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.client?.dispose();
  }
}

function describeClose(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error) return `closed ${(error as { code: number }).code}`;
  if (Array.isArray(error)) return `errors ${JSON.stringify(error)}`;
  return String(error);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a truthy value, or throws after timeoutMs with `what` (a string or a function of the last value). */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await sleep(100);
  }
}

/** Runs `fn` over `items` with at most `n` at a time, results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}
