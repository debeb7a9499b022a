import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { type Simulator, simulatorMediaBytes, startSimulator } from '@clipwire/providers/simulator';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_KLING_API_KEY } from '../../src/config.js';
import { childApiEnv, freePort, gql, MainProcess } from '../support/main-process.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT } from '../support/stack.js';

/*
 * A crash during archiving (the compiled server as a child process, SIGKILLed by its own fail point
 * right after the first output was written to the store, before that was recorded): the restarted
 * process resumes the archive job, and the task ends ARCHIVED with exactly one object per output and
 * one archive event.
 */

let sim: Simulator;
let dataDir: string;
let port: number;
const children: MainProcess[] = [];

beforeAll(async () => {
  sim = await startSimulator({
    kling: { apiKey: SANDBOX_KLING_API_KEY, timing: { processingAfterMs: 200, succeedAfterMs: 500 } },
  });
  dataDir = await mkdtemp(join(tmpdir(), 'clipwire-archive-crash-'));
  port = await freePort();
});
afterAll(async () => {
  for (const child of children) await child.kill();
  await sim?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function start(crashAt?: string): MainProcess {
  const url = `http://127.0.0.1:${port}`;
  const env = childApiEnv(
    { port, dataDir, simUrl: sim.url, crashAt },
    { JOB_LEASE_MS: '2000', POLL_INTERVAL_MS: '200' },
  );
  const child = new MainProcess(crashAt ? `api (crash at ${crashAt})` : 'api', url, env);
  children.push(child);
  return child;
}

/** The store's files (keys) under outputs/, and any unfinished temporary write. */
async function storeFiles(): Promise<string[]> {
  const root = join(dataDir, 'media');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

const TASK = `query ($id: ID!) { task(id: $id) { status videos { url providerUrl archiveStatus } events { edges { node { type } } } } }`;

describe('a crash while archiving', () => {
  it('resumes after a restart without duplicates: one object per output, ARCHIVED, one archive event', {
    timeout: 180_000,
  }, async () => {
    const crashing = start('archive:after-store');
    await crashing.ready();
    const apiKey = (await readFile(join(dataDir, 'sandbox-api-key'), 'utf8')).trim();
    const created = await gql(crashing.url, apiKey, CREATE_AVATAR, {
      input: { ...SAMPLE_INPUT, kling: { watermark: true } },
    });
    if (!created.ok) throw new Error(created.error);
    const id = created.data!.createAvatarVideo.id as string;

    // The process kills itself once the first output is in the store, before it recorded the copy.
    const exit = await crashing.waitExit(30_000);
    expect(exit.signal, crashing.logTail()).toBe('SIGKILL');
    const halfway = (await storeFiles()).filter((f) => f.startsWith('outputs/'));
    expect(halfway).toHaveLength(1);
    expect(halfway[0]).toMatch(/\/video-0\.mp4$/);

    const restarted = start();
    await restarted.ready();
    const task = await eventually(
      async () => {
        const res = await gql(restarted.url, apiKey, TASK, { id });
        const t = res.ok ? res.data?.task : null;
        return t?.videos?.[0]?.archiveStatus && t.videos[0].archiveStatus !== 'PENDING' ? t : null;
      },
      30_000,
      'the archive to finish after the restart',
    );
    expect(task.videos[0].archiveStatus, restarted.logTail()).toBe('ARCHIVED');
    const files = await storeFiles();
    const prefix = halfway[0]!.slice(0, halfway[0]!.lastIndexOf('/') + 1);
    expect(files.filter((f) => f.startsWith('outputs/'))).toEqual([
      `${prefix}video-0-watermarked.mp4`,
      `${prefix}video-0.mp4`,
    ]);
    expect(files.filter((f) => f.startsWith('.tmp'))).toEqual([]);
    expect(task.events.edges.filter((e: any) => e.node.type === 'OUTPUTS_ARCHIVED')).toHaveLength(1);
    const res = await request(task.videos[0].url);
    expect(res.statusCode).toBe(200);
    // The bytes the simulator served at the provider's link (a file made to the audio's length).
    const served = await simulatorMediaBytes(basename(new URL(task.videos[0].providerUrl).pathname));
    expect(Buffer.from(await res.body.arrayBuffer()).equals(served)).toBe(true);
    restarted.signal('SIGTERM');
    expect(await restarted.waitExit(15_000)).toEqual({ code: 0, signal: null });
  });
});
