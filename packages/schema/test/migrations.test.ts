import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { migrationsFolder } from '../src/migrations-folder.js';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('migrations', () => {
  it('match the Drizzle schema: drizzle-kit generates nothing new from the tables', async () => {
    // Generate into a copy of the committed migrations; any new file means the tables drifted.
    // (drizzle-kit resolves `out` against the working directory, so the copy lives in the package.)
    const out = mkdtempSync(join(packageDir, '.drift-'));
    try {
      cpSync(migrationsFolder, out, { recursive: true });
      const before = readdirSync(out).sort();
      const { stdout } = await run('pnpm', ['exec', 'drizzle-kit', 'generate'], {
        cwd: packageDir,
        env: { ...process.env, DRIZZLE_OUT: `./${relative(packageDir, out)}` },
      });
      expect(readdirSync(out).sort(), `drizzle-kit generated a migration:\n${stdout}`).toEqual(before);
      expect(stdout).toMatch(/No schema changes/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('are plain SQL that PostgreSQL 15 accepts as well as PGlite’s 18 (no NULLS NOT DISTINCT, no 16+ syntax)', () => {
    const sqlFiles = readdirSync(migrationsFolder).filter((f) => f.endsWith('.sql'));
    expect(sqlFiles.length).toBeGreaterThan(0);
    for (const f of sqlFiles) {
      const text = readFileSync(join(migrationsFolder, f), 'utf8');
      expect(text).not.toMatch(/NULLS NOT DISTINCT|MERGE INTO|JSON_TABLE|uuidv7\(/i);
    }
  });
});
