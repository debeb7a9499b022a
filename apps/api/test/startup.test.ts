import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_DIR, assertCompiled, freePort, MainProcess } from './support/main-process.js';

/**
 * `node dist/main.js` on a port already taken: one plain line naming the setting that moves it, exit
 * code 1, no stack trace — for the API's port and for the sandbox simulator's.
 */
let taken: Server;
let takenPort: number;
beforeAll(async () => {
  takenPort = await freePort();
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(takenPort, '127.0.0.1', resolve));
});
afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

async function startWith(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = new MainProcess('startup', 'http://127.0.0.1:0', {
    ...process.env,
    HOST: '127.0.0.1',
    CLIPWIRE_DATA_DIR: 'memory://',
    DATABASE_URL: '',
    LOG_LEVEL: 'silent',
    ...env,
  } as Record<string, string>);
  const exit = await child.exited;
  return { code: exit.code, output: child.logTail() };
}

describe('startup on a port in use', () => {
  it('the API port: says to set PORT', async () => {
    const { code, output } = await startWith({ PORT: String(takenPort), SIMULATOR_PORT: String(await freePort()) });
    expect(code).toBe(1);
    expect(output).toContain(`clipwire failed to start: port ${takenPort} is in use: set PORT to a free port`);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it("the simulator's port: says to set SIMULATOR_PORT", async () => {
    const { code, output } = await startWith({ PORT: String(await freePort()), SIMULATOR_PORT: String(takenPort) });
    expect(code).toBe(1);
    expect(output).toContain(
      `clipwire failed to start: port ${takenPort} is in use: set SIMULATOR_PORT to a free port`,
    );
    expect(output).not.toMatch(/\n\s+at /);
  });
});

/**
 * Ctrl-C on `pnpm start`: the terminal sends SIGINT to the whole foreground process group (pnpm, its
 * shell, turbo, the inner pnpm and node). The server stops and the command ends with exit code 0 and
 * no "ELIFECYCLE Command failed" lines. `--only` runs the root script's turbo task without its build
 * step, so this test never rewrites the dist/ other tests are running.
 */
describe('Ctrl-C on pnpm start', () => {
  it('stops cleanly: exit code 0, no ELIFECYCLE or ERR_PNPM lines', async () => {
    assertCompiled();
    const child = spawn('pnpm', ['start', '--only'], {
      cwd: join(API_DIR, '..', '..'),
      detached: true, // its own process group, as a terminal's foreground job is
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        SIMULATOR_PORT: String(await freePort()),
        CLIPWIRE_DATA_DIR: 'memory://',
        DATABASE_URL: '',
        LOG_LEVEL: 'warn',
      },
    });
    let output = '';
    const up = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('is up:')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await Promise.race([up, exited.then(() => Promise.reject(new Error(`pnpm start exited early:\n${output}`)))]);
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    expect(output).not.toMatch(/ELIFECYCLE|ERR_PNPM|Command failed/);
    expect(code).toBe(0);
  }, 120_000);
});
