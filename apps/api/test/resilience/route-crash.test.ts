import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '@clipwire/providers/simulator';
import { afterAll, describe, expect, it } from 'vitest';
import { SANDBOX_DIGITAL_HUMAN_API_KEY, SANDBOX_KIE_API_KEY, SANDBOX_KLING_API_KEY } from '../../src/config.js';
import type { CrashPoint } from '../../src/crash.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually, SAMPLE_INPUT } from '../support/stack.js';
import { ApiChild, childApiEnv, freePort, gqlOk, limiter } from './crash-support.js';

/*
 * The crash battery, extended to routing: a task on the route [KLING, KIE] whose Kling create is
 * refused for the account (1102) is moved to KIE. The API (node dist/main.js) SIGKILLs itself at each
 * step of that move (CLIPWIRE_CRASH_AT), and at each step of the create that follows on KIE, and is
 * restarted on the same data. Every run: the task ends; across both providers at most one create was
 * accepted, and exactly one when it SUCCEEDED, by the provider it names; the route moved once.
 *
 * ROUTE_SUBMIT_ATTEMPTS=1: a Kling create whose answer died with the process is looked up by our id;
 * once the lookup proves it absent (after the grace period), the task moves on instead of resending.
 */

const usePostgres = Boolean(process.env.DATABASE_URL);
const atMostTwo = limiter(2);
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELED'];
const CREATE = /* GraphQL */ `mutation ($input: CreateAvatarVideoInput!) {
  createAvatarVideo(input: $input) { __typename ... on Task { id } ... on ValidationError { message } } }`;
const TASK = /* GraphQL */ `query ($id: ID!) { task(id: $id) {
  id status provider route error { code }
  attempts { provider outcome code }
  events(first: 50) { edges { node { type status } } } } }`;

interface Run {
  sim: Simulator;
  dataDir: string;
  database: TestDatabase | undefined;
  port: number;
  children: ApiChild[];
}
const runs = new Set<Run>();
afterAll(async () => {
  for (const run of runs) {
    await Promise.all(run.children.map((c) => c.kill()));
    await run.sim.stop();
    await rm(run.dataDir, { recursive: true, force: true });
    await run.database?.drop();
  }
});

async function newRun(label: string): Promise<Run> {
  const run: Run = {
    dataDir: await mkdtemp(join(tmpdir(), `clipwire-route-crash-${label.replace(/\W+/g, '-')}-`)),
    database: usePostgres ? await createTestDatabase() : undefined,
    port: await freePort(),
    sim: await startSimulator({
      host: '127.0.0.1',
      kling: { apiKey: SANDBOX_KLING_API_KEY, timing: { processingAfterMs: 1000, succeedAfterMs: 3000 } },
      // KIE would download its inputs from the API's /media links, which a dead API cannot serve.
      kie: {
        apiKey: SANDBOX_KIE_API_KEY,
        timing: { queuingAfterMs: 300, generatingAfterMs: 1500, completeAfterMs: 4000 },
        fetchInputs: false,
      },
      digitalHuman: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY },
    }),
    children: [],
  };
  runs.add(run);
  return run;
}

function startApi(run: Run, crashAt?: CrashPoint): ApiChild {
  const env = childApiEnv(
    { port: run.port, dataDir: run.dataDir, simUrl: run.sim.url, databaseUrl: run.database?.url, crashAt },
    {
      JOB_LEASE_MS: '2000',
      POLL_INTERVAL_MS: '200',
      ARCHIVE_OUTPUTS: 'false',
      // Long enough that a loaded machine does not turn KIE's create into an unconfirmed one (a timeout).
      PROVIDER_TIMEOUT_MS: '8000',
      ROUTE_SUBMIT_ATTEMPTS: '1',
    },
  );
  const child = new ApiChild(`http://127.0.0.1:${run.port}`, env, `api${crashAt ? ` (crash at ${crashAt})` : ''}`);
  run.children.push(child);
  return child;
}

/**
 * Creates the routed task, then runs the API once per crash point in `crashes` (each SIGKILLs itself at
 * its point), and a last time with none, until the task is final.
 */
async function crashThrough(label: string, crashes: CrashPoint[]) {
  const run = await newRun(label);
  let api = startApi(run, crashes[0]);
  await api.ready(120_000);
  const key = (await readFile(join(run.dataDir, 'sandbox-api-key'), 'utf8')).trim();
  run.sim.kling.setNextCreateError({ httpStatus: 429, code: 1102, message: 'resource pack exhausted' });
  const input = {
    ...SAMPLE_INPUT,
    prompt: 'hello',
    route: ['KLING', 'KIE'],
    externalTaskId: `route-${label.replace(/\W+/g, '-')}`,
  };
  const created = await gqlOk(api, key, CREATE, { input });
  expect(created.createAvatarVideo.__typename, JSON.stringify(created)).toBe('Task');
  const id = created.createAvatarVideo.id as string;
  for (const next of [...crashes.slice(1), undefined]) {
    const dying = api;
    const exit = await dying.waitExit(60_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${dying.logTail()}`);
    });
    expect(exit.signal, `${api.label} was to die at its crash point\n${api.logTail()}`).toBe('SIGKILL');
    api = startApi(run, next);
    // One that is to die may reach its point before it answers /readyz: the next turn waits for its exit.
    if (next === undefined) await api.ready(120_000);
  }
  let task: Record<string, any> = {};
  await eventually(
    async () => {
      task = (await gqlOk(api, key, TASK, { id })).task;
      return TERMINAL.includes(task.status);
    },
    90_000,
    `the routed task to end (${label})`,
  );
  const accepted = { KLING: run.sim.kling.createCount(), KIE: run.sim.kie.createCount() };
  const what = `${label}: ${JSON.stringify({ task, accepted })}\n${api.logTail()}`;
  // Never paid twice: Kling refused (or provably never got) the task, KIE took it at most once.
  expect(accepted.KLING, what).toBe(0);
  expect(accepted.KIE, what).toBeLessThanOrEqual(1);
  expect(task.attempts[0], what).toMatchObject({ provider: 'KLING' });
  expect(['REFUSED', 'UNAVAILABLE'], what).toContain(task.attempts[0].outcome);
  expect(
    task.events.edges.filter((e: any) => e.node.type === 'ROUTED'),
    what,
  ).toHaveLength(1);
  expect(task.provider, what).toBe('KIE');
  if (task.status === 'SUCCEEDED') expect(accepted.KIE, what).toBe(1);
  else {
    // KIE cannot be looked up: a create whose answer the crash hid ends the route, unconfirmed.
    expect(task.status, what).toBe('FAILED');
    expect(task.error.code, what).toBe('SUBMISSION_UNCONFIRMED');
  }
  return { task, accepted, what };
}

describe.concurrent('routing survives SIGKILL at every step of a fallback', { timeout: 240_000 }, () => {
  // The move itself never loses the task: the runs that crash around it end SUCCEEDED on KIE. A crash
  // inside KIE's create may end it SUBMISSION_UNCONFIRMED (KIE has no lookup by our id), never twice.
  const cases: [string, CrashPoint[], boolean][] = [
    ['before the move commits (Kling answered 1102)', ['route:before-move'], true],
    ['right after the move commits', ['route:after-move'], true],
    ['at KIE, after the attempt commits', ['route:after-move', 'submit:after-attempt-committed'], false],
    ['at KIE, after KIE accepted', ['route:after-move', 'submit:after-upstream-accepted'], false],
  ];
  for (const [label, points, succeeds] of cases) {
    it(label, async () => {
      const { task, accepted, what } = await atMostTwo(() => crashThrough(label, points));
      if (succeeds) expect([task.status, accepted.KIE], what).toEqual(['SUCCEEDED', 1]);
    });
  }
});
