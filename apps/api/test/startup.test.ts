import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, MainProcess } from './support/main-process.js';

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
