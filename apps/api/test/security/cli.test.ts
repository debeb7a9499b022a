import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { assertCompiled } from '../support/main-process.js';

const run = promisify(execFile);
const apiDir = new URL('../..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'clipwire-cli-'));
let database: TestDatabase;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  assertCompiled();
  database = await createTestDatabase();
  env = {
    ...process.env,
    CLIPWIRE_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...(database.url ? { DATABASE_URL: database.url } : { DATABASE_URL: '' }),
  };
});
afterAll(async () => {
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The server's configuration on the CLI's database (its providers pointed nowhere: only keys matter here). */
function serverConfig() {
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    CLIPWIRE_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    KLING_BASE_URL: 'http://127.0.0.1:9',
    KIE_BASE_URL: 'http://127.0.0.1:9',
    DIGITAL_HUMAN_BASE_URL: 'http://127.0.0.1:9',
  });
}

function clipwire(...args: string[]) {
  return run(process.execPath, ['dist/cli.js', ...args], { cwd: apiDir, env });
}

describe('pnpm clipwire keys', () => {
  it('creates a tenant and a key shown once, lists it without the key, and revokes it', {
    timeout: 120_000,
  }, async () => {
    const created = await clipwire('keys', 'create', '--tenant', 'acme', '--name', 'backend');
    const key = /\b(cw_sk_[A-Za-z0-9_-]{43})\b/.exec(created.stdout)?.[1];
    const id = /key id ([0-9a-f-]{36})/.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    expect(id).toBeDefined();

    const listed = await clipwire('keys', 'list', '--tenant', 'acme');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain(key!.slice(0, 12));
    expect(listed.stdout).not.toContain(key);
    expect(listed.stdout).toMatch(/active/);
    // A header row, then one row per key with its creation time and last use (never, so far).
    expect(listed.stdout.split('\n')[0]).toMatch(
      /^ID\s+TENANT\s+PREFIX\s+SCOPE\s+NAME\s+CREATED \(UTC\)\s+LAST USED \(UTC\)\s+STATE$/,
    );
    expect(listed.stdout).toMatch(
      new RegExp(`${id}\\s+acme\\s+.*\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\s+never\\s+active`),
    );

    // The key works against the server, until it is revoked.
    const config = serverConfig();
    const ask = async (url: string) =>
      (
        await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: '{"query":"{ apiKeys { prefix } }"}',
        })
      ).status;
    let app = await buildApp({ config });
    expect(await ask(await app.start())).toBe(200);
    await app.stop();
    // The server wrote its last use (at the latest when it stopped).
    const used = await clipwire('keys', 'list', '--tenant', 'acme');
    expect(used.stdout).toMatch(
      new RegExp(`${id}\\s+acme\\s+.*(\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\s+){2}active`),
    );

    const revoked = await clipwire('keys', 'revoke', id!);
    expect(revoked.stdout).toContain(`revoked ${id}`);
    expect((await clipwire('keys', 'list')).stdout).toMatch(/revoked \d{4}-/);

    app = await buildApp({ config });
    expect(await ask(await app.start())).toBe(401);
    await app.stop();
  });

  it('refuses a second process on an embedded data dir in use, and shares a Postgres database', {
    timeout: 60_000,
  }, async () => {
    const config = serverConfig();
    const app = await buildApp({ config });
    try {
      if (database.url) {
        // Any number of processes may share a Postgres server.
        expect((await clipwire('keys', 'list')).stdout).toMatch(/acme/);
      } else {
        await expect(clipwire('keys', 'list')).rejects.toMatchObject({
          stderr: expect.stringMatching(/in use by process/),
        });
      }
    } finally {
      await app.stop();
    }
  });
});
