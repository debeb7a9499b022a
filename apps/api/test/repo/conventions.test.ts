import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/config.js';

/*
 * Conventions of the repository that no compiler checks: turbo passes the environment the
 * processes it starts actually read, and no other; the documentation cites files that exist; no
 * source file of the API is over 300 lines.
 */

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|tsx|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Variables read as `process.env.NAME` (or `process.env['NAME']`) in the given files. */
function envReads(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files)
    for (const m of readFileSync(file, 'utf8').matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\['([A-Z][A-Z0-9_]*)'\])/g))
      names.add((m[1] ?? m[2])!);
  return names;
}

describe('repository conventions', () => {
  it("turbo.json passes through exactly the variables of Clipwire's configuration and those its started processes read", () => {
    const turbo = JSON.parse(readFileSync(join(ROOT, 'turbo.json'), 'utf8')) as { globalPassThroughEnv: string[] };
    // What `pnpm start` / `pnpm dev` run under turbo: the API, the simulator it starts, the console's dev server.
    const started = [
      ...sources(join(ROOT, 'apps', 'api', 'src')),
      ...sources(join(ROOT, 'packages', 'providers', 'src')),
      join(ROOT, 'apps', 'web', 'vite.config.ts'),
    ];
    const expected = new Set([...CONFIG_VARIABLES, ...envReads(started)]);
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(20);
    expect([...turbo.globalPassThroughEnv].sort()).toEqual([...expected].sort());
  });

  it('the README and docs/ cite only files that are in the repository', () => {
    const docs = [
      join(ROOT, 'README.md'),
      join(ROOT, 'bench', 'README.md'),
      ...readdirSync(join(ROOT, 'docs', 'providers')).map((name) => join(ROOT, 'docs', 'providers', name)),
    ];
    const missing: string[] = [];
    let cited = 0;
    for (const doc of docs) {
      const text = readFileSync(doc, 'utf8');
      for (const [path] of text.matchAll(/\b(?:apps|packages|bench|docs|deploy)\/[\w./-]*\w/g)) {
        if (/[{}<>*]/.test(text.slice(text.indexOf(path) + path.length, text.indexOf(path) + path.length + 1)))
          continue;
        cited++;
        if (!existsSync(join(ROOT, path))) missing.push(`${relative(ROOT, doc)}: ${path}`);
      }
      expect(text, relative(ROOT, doc)).not.toMatch(/CONTRACTS\.md|\/work\/shared|\.\.\/shared\//);
    }
    expect(cited).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('no source file of the API is over 300 lines', () => {
    const long = sources(join(ROOT, 'apps', 'api', 'src'))
      .map((file) => ({ file: relative(ROOT, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > 300);
    expect(long).toEqual([]);
  });
});
