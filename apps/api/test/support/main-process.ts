import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/**
 * Clipwire as a real child process (`node dist/main.js`, the compiled build), for the batteries that kill,
 * restart or scale it: the crash battery (resilience/) and the scale-out battery (cluster/).
 */

export const API_DIR = join(import.meta.dirname, '..', '..');
/** `node` and these arguments, in API_DIR: the production command (the Dockerfile's CMD, checked by compose.test.ts). */
export const MAIN_ARGS = ['dist/main.js'];

/**
 * The environment of a child API on loopback port `port` over `dataDir` (and `databaseUrl`, when
 * given), with every provider in sandbox mode at the simulator `simUrl` (so main.ts starts none of its
 * own), killing itself at `crashAt` when given; `extra` adds or overrides variables.
 */
export function childApiEnv(
  opts: {
    port: number;
    dataDir: string;
    simUrl: string;
    databaseUrl?: string | undefined;
    crashAt?: string | undefined;
  },
  extra: Record<string, string> = {},
): Record<string, string> {
  const url = `http://127.0.0.1:${opts.port}`;
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'test',
    PORT: String(opts.port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: url,
    // info: a failure's output tail then shows the engine's recovery steps (resends, adoptions).
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    CLIPWIRE_DATA_DIR: opts.dataDir,
    KLING_BASE_URL: opts.simUrl,
    KIE_BASE_URL: opts.simUrl,
    DIGITAL_HUMAN_BASE_URL: opts.simUrl,
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...(opts.crashAt ? { CLIPWIRE_CRASH_AT: opts.crashAt } : {}),
    ...extra,
  };
}

const ROOT = join(API_DIR, '..', '..');
let compiledChecked = false;

/**
 * The child processes run the compiled build; a dist/ older than its sources would test stale code, so
 * this stops the test and says how to rebuild (`pnpm test` builds first). Checked once per test file.
 */
export function assertCompiled(): void {
  if (compiledChecked) return;
  const newest = (dir: string, ext: string) => {
    let latest = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith(ext))
        latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
    return latest;
  };
  for (const pkg of ['packages/schema', 'packages/providers', 'apps/api']) {
    let built = 0;
    try {
      built = newest(join(ROOT, pkg, 'dist'), '.js');
    } catch {
      // no dist/ at all
    }
    if (built < newest(join(ROOT, pkg, 'src'), '.ts')) {
      throw new Error(`${pkg}/dist is missing or older than ${pkg}/src: run \`pnpm build\` (pnpm test does it)`);
    }
  }
  compiledChecked = true;
}

/**
 * A free loopback port, kept by the caller across restarts so provider callbacks keep working.
 * Taken below the kernel's ephemeral range (32768+), so that no outgoing connection can be given
 * it as its local port while the API is down between two incarnations.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createNetServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!ok) continue;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  throw new Error('no free port found in 20000-31999');
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One incarnation of `node dist/main.js`, with its output kept for failure messages. */
export class MainProcess {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  private output = '';

  constructor(
    readonly label: string,
    readonly url: string,
    env: Record<string, string>,
  ) {
    assertCompiled();
    this.process = spawn(process.execPath, MAIN_ARGS, { cwd: API_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-200_000);
    };
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** How failure messages name the child. */
  protected title(): string {
    return this.label;
  }

  /** The last lines the child printed, for failure messages. */
  logTail(chars = 4000): string {
    return `--- ${this.title()} (pid ${this.process.pid}) output tail ---\n${this.output.slice(-chars)}`;
  }

  /** Polls GET /readyz until it answers 200; fails at once if the child exits first. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive)
        throw new Error(`${this.title()} exited ${JSON.stringify(this.exit)} before it was ready\n${this.logTail()}`);
      try {
        const res = await request(`${this.url}/readyz`, { headersTimeout: 2000, bodyTimeout: 2000, reset: true });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.title()} not ready within ${timeoutMs} ms\n${this.logTail()}`);
      await sleep(50);
    }
  }

  /** Waits for the exit, failing after timeoutMs (the child is left running for the caller to kill). */
  async waitExit(timeoutMs: number): Promise<ChildExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.title()} did not exit within ${timeoutMs} ms\n${this.logTail()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive && this.process.pid !== undefined) process.kill(this.process.pid, signal);
  }

  /** Cleanup fallback only. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.signal('SIGKILL');
    await this.exited;
  }
}

export type GqlResult =
  | {
      ok: true;
      status: number;
      data?: Record<string, any>;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    }
  /** No answer: the connection was refused or reset (the process died). */
  | { ok: false; error: string };

/** GraphQL over HTTP to a child process; a transport failure (dead process) is a result, not an exception. */
export async function gql(
  url: string,
  apiKey: string,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 30_000,
): Promise<GqlResult> {
  try {
    const res = await request(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query, variables }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // Each request on its own connection: a kept-alive socket of a killed process must not be reused.
      reset: true,
    });
    const text = await res.body.text();
    try {
      return { ok: true, status: res.statusCode, ...(JSON.parse(text) as object) };
    } catch {
      return { ok: false, error: `HTTP ${res.statusCode} with a non-JSON body: ${text.slice(0, 200)}` };
    }
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { ok: false, error: `${e.code ?? 'error'}: ${e.message ?? String(error)}` };
  }
}
