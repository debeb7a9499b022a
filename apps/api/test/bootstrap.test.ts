import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '@clipwire/providers/simulator';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, SANDBOX_KLING_API_KEY } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { createTestDatabase } from './support/database.js';

const dataDir = mkdtempSync(join(tmpdir(), 'clipwire-boot-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('first start in sandbox mode', () => {
  it('creates the sandbox tenant once, writes its key (0600) to the data dir, and the key works', async () => {
    const database = await createTestDatabase();
    const sim = await startSimulator({ kling: { apiKey: SANDBOX_KLING_API_KEY } });
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      CLIPWIRE_DATA_DIR: dataDir,
      ...(database.url ? { DATABASE_URL: database.url } : {}),
    });
    try {
      const first = await buildApp({ config, sandboxUrl: sim.url });
      const url = await first.start();
      const key = first.sandboxApiKey!;
      expect(key).toMatch(/^cw_sk_/);
      const file = join(dataDir, 'sandbox-api-key');
      expect(readFileSync(file, 'utf8').trim()).toBe(key);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ tasks(first: 1) { edges { cursor } } }' }),
      });
      expect(res.status).toBe(200);
      // The console on this machine can pick the key up; it is never handed to other addresses.
      expect(await (await fetch(`${url}/console/config.json`)).json()).toEqual({ mode: 'SANDBOX', sandboxApiKey: key });
      await first.stop();

      // A restart on the same data keeps the tenant and creates no new key.
      const second = await buildApp({ config, sandboxUrl: sim.url });
      await second.start();
      expect(second.sandboxApiKey).toBeNull();
      expect(readFileSync(file, 'utf8').trim()).toBe(key);
      await second.stop();
    } finally {
      await sim.stop();
      await database.drop();
    }
  });
});
