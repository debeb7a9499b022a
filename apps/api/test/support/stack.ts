import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir, startSimulator, type Simulator, type SimulatorOptions } from '@clipwire/providers/simulator';
import { createClient, type Client } from 'graphql-ws';
import { request } from 'undici';
import WebSocket from 'ws';
import { createApiKey, createTenant } from '../../src/auth/api-keys.js';
import {
  loadConfig,
  SANDBOX_DIGITAL_HUMAN_API_KEY,
  SANDBOX_KIE_API_KEY,
  SANDBOX_KLING_API_KEY,
} from '../../src/config.js';
import { buildApp, type App, type AppOptions } from '../../src/http/app.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface Stack {
  app: App;
  sim: Simulator;
  url: string;
  /** The sandbox tenant's key, created on first start. */
  apiKey: string;
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string | null,
  ): Promise<GraphQLResponse<T>>;
  /** A GraphQL multipart request (file uploads): `files` maps variable paths such as `input.image.file` to files. */
  upload<T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown>,
    files: Record<string, Blob>,
  ): Promise<GraphQLResponse<T>>;
  /** Waits for a task to reach a terminal status and returns it, with `fields` selected. */
  waitForFinal(id: string, fields: string, timeoutMs?: number, key?: string): Promise<Record<string, any>>;
  /** Waits until every task of the key (its first 100) is terminal: nothing is left to submit in the background. */
  waitForAllFinal(key?: string): Promise<void>;
  ws(key?: string | null, options?: Partial<Parameters<typeof createClient>[0]>): Client;
  newTenant(name: string): Promise<{ tenantId: string; apiKey: string }>;
  stop(): Promise<void>;
}

/** The real API and the Kling simulator on free loopback ports, over a fresh database. */
export async function startStack(
  opts: {
    kling?: SimulatorOptions['kling'];
    kie?: SimulatorOptions['kie'];
    digitalHuman?: SimulatorOptions['digitalHuman'];
    env?: Record<string, string>;
    engine?: AppOptions['engine'];
    webhookScheduleMs?: number[];
    webhookRetentionSweepMs?: number;
    breaker?: AppOptions['breaker'];
    maxGraphQLBodyBytes?: number;
    /** The API's logger (tests that read the log pass one writing to memory). */
    log?: AppOptions['log'];
    /** The simulator's output links stop working this long after their task finished. */
    outputTtlSeconds?: number;
    archive?: AppOptions['archive'];
  } = {},
): Promise<Stack> {
  const database: TestDatabase = await createTestDatabase();
  const fast = FAST_SIM_TIMING;
  const sim = await startSimulator({
    kling: { apiKey: SANDBOX_KLING_API_KEY, timing: fast, videoToAudioTiming: fast, ...opts.kling },
    kie: {
      apiKey: SANDBOX_KIE_API_KEY,
      timing: { queuingAfterMs: 100, generatingAfterMs: 300, completeAfterMs: 700 },
      ...opts.kie,
    },
    digitalHuman: {
      apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY,
      timing: { submittedAfterMs: 50, queuedAfterMs: 100, inProgressAfterMs: 300, finishAfterMs: 800 },
      ...opts.digitalHuman,
    },
    ...(opts.outputTtlSeconds !== undefined ? { outputTtlSeconds: opts.outputTtlSeconds } : {}),
  });
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    CLIPWIRE_DATA_DIR: 'memory://',
    POLL_INTERVAL_MS: '100',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...opts.env,
  });
  if (database.target.kind === 'pglite') config.database = database.target;
  const app = await buildApp({
    config,
    sandboxUrl: sim.url,
    engine: {
      retryBaseMs: 50,
      retryMaxMs: 400,
      noCallbackPollMs: 200,
      callbackGraceMs: 5000,
      maxPollDelayMs: 1000,
      ...opts.engine,
    },
    ...(opts.webhookScheduleMs ? { webhookScheduleMs: opts.webhookScheduleMs } : {}),
    ...(opts.webhookRetentionSweepMs ? { webhookRetentionSweepMs: opts.webhookRetentionSweepMs } : {}),
    ...(opts.breaker ? { breaker: opts.breaker } : {}),
    ...(opts.maxGraphQLBodyBytes ? { maxGraphQLBodyBytes: opts.maxGraphQLBodyBytes } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    // Archive copies retried quickly (the simulator is on loopback).
    archive: { retryBaseMs: 100, retryMaxMs: 1000, ...opts.archive },
  });
  const url = await app.start();
  // With a provider's credentials in `env` (LIVE) there is no sandbox tenant: the tests get a tenant of their own.
  const live = Object.keys(opts.env ?? {}).some((k) => k.endsWith('_API_KEY'));
  if (!app.sandboxApiKey && !live) throw new Error('expected the sandbox tenant to be created on an empty database');
  const apiKey =
    app.sandboxApiKey ?? (await createApiKey(app.db.db, await createTenant(app.db.db, 'live'), 'live test key')).key;
  const clients: Client[] = [];

  const stack: Stack = {
    app,
    sim,
    url,
    apiKey,
    async gql(query, variables, key = apiKey) {
      const res = await request(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.body.json()) as Omit<GraphQLResponse, 'status'>;
      return { status: res.statusCode, ...body } as GraphQLResponse<any>;
    },
    async upload(query, variables, files) {
      const form = new FormData();
      form.append('operations', JSON.stringify({ query, variables }));
      const entries = Object.entries(files);
      form.append(
        'map',
        JSON.stringify(Object.fromEntries(entries.map(([path], i) => [String(i), [`variables.${path}`]]))),
      );
      entries.forEach(([, blob], i) => form.append(String(i), blob, `upload-${i}`));
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'graphql-preflight': '1' },
        body: form,
      });
      return { status: res.status, ...((await res.json()) as object) } as GraphQLResponse<any>;
    },
    async waitForFinal(id, fields, timeoutMs = 15_000, key = apiKey) {
      return eventually(
        async () => {
          const res = await stack.gql(`query ($id: ID!) { task(id: $id) { status ${fields} } }`, { id }, key);
          const task = res.data?.task;
          return task && ['SUCCEEDED', 'FAILED', 'CANCELED'].includes(task.status) ? task : null;
        },
        timeoutMs,
        `task ${id} to finish`,
      );
    },
    async waitForAllFinal(key = apiKey) {
      const page = await stack.gql('{ tasks(first: 100) { edges { node { id } } } }', {}, key);
      for (const edge of page.data!.tasks.edges) await stack.waitForFinal(edge.node.id, 'id', undefined, key);
    },
    ws(key = apiKey, options = {}) {
      const client = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: key ? { authorization: `Bearer ${key}` } : {},
        retryAttempts: 0,
        lazy: true,
        ...options,
      });
      clients.push(client);
      return client;
    },
    async newTenant(name) {
      const tenantId = await createTenant(app.db.db, name);
      const { key } = await createApiKey(app.db.db, tenantId, `${name} test key`);
      return { tenantId, apiKey: key };
    },
    async stop() {
      await Promise.all(clients.map((c) => c.dispose()));
      await app.stop();
      await sim.stop();
      await database.drop();
    },
  };
  return stack;
}

/** Collects every value of a subscription until it completes (or fails the test after timeoutMs). */
export async function collect<T>(iterable: AsyncIterable<T>, timeoutMs = 15_000): Promise<T[]> {
  const values: T[] = [];
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`subscription did not complete within ${timeoutMs} ms; got ${JSON.stringify(values)}`)),
      timeoutMs,
    ).unref(),
  );
  await Promise.race([
    (async () => {
      for await (const v of iterable) values.push(v);
    })(),
    timeout,
  ]);
  return values;
}

/** Polls until `check` returns a value, or throws after timeoutMs. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function fixture(name: string): Buffer<ArrayBuffer> {
  const local = join(import.meta.dirname, '..', 'media', 'fixtures', name);
  return readFileSync(existsSync(local) ? local : join(fixturesDir, name)) as Buffer<ArrayBuffer>;
}

/** A real portrait and a real speech clip, sent inline as raw base64. */
/** The simulator's Kling timing in test stacks: processing after 300 ms, done after 700 ms. */
export const FAST_SIM_TIMING = { processingAfterMs: 300, succeedAfterMs: 700 };

export const SAMPLE_INPUT = {
  image: { base64: readFileSync(join(fixturesDir, 'portrait-512x640.png')).toString('base64') },
  audio: { base64: readFileSync(join(fixturesDir, 'speech-3s.mp3')).toString('base64') },
} as const;

export const CREATE_SOUND = /* GraphQL */ `
  mutation Create($input: CreateVideoSoundInput!) {
    createVideoSound(input: $input) {
      __typename
      ... on Task { id status kind provider model }
      ... on ValidationError { issues { path message } }
    }
  }
`;

export const CREATE_AVATAR = /* GraphQL */ `
  mutation Create($input: CreateAvatarVideoInput!) {
    createAvatarVideo(input: $input) {
      __typename
      ... on Task { id status externalTaskId }
      ... on ValidationError { message issues { path message } }
      ... on DuplicateExternalTaskId { message externalTaskId task { id } }
    }
  }
`;
