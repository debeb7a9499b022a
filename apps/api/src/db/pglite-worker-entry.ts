import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * How to start the worker: its file beside this one, in this module's own flavour — pglite-worker.js
 * in a compiled build, pglite-worker.ts when this runs from TypeScript source (tsx, vitest). A .ts
 * worker needs tsx inside the worker: Node 20 does not apply a loader given with `--import` to a
 * worker's own entry file, and vitest compiles in-process with no loader at all. So a .ts worker
 * starts from a two-line bootstrap that registers tsx's loader in the worker thread, then imports it.
 */
export function workerEntry(): { entry: URL | string; eval: boolean } {
  const here = import.meta.url;
  const candidates = here.endsWith('.ts')
    ? ['./pglite-worker.ts', './pglite-worker.js']
    : ['./pglite-worker.js', './pglite-worker.ts'];
  const url = candidates.map((file) => new URL(file, here)).find((candidate) => existsSync(candidate));
  if (!url) throw new Error(`the PGlite worker is missing: no pglite-worker.js or .ts beside ${here}`);
  if (!url.pathname.endsWith('.ts')) return { entry: url, eval: false };
  const register = tsxRegisterUrl(here);
  const bootstrap = `import(${JSON.stringify(register)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return { entry: bootstrap, eval: true };
}

/** The file URL of tsx's ESM API (`tsx/esm/api`, whose register() installs its loader), as its package exports it. */
function tsxRegisterUrl(from: string): string {
  const manifestPath = createRequire(from).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports?: Record<string, { import?: { default?: string } } | string>;
  };
  const api = manifest.exports?.['./esm/api'];
  const file = typeof api === 'object' ? api.import?.default : undefined;
  if (!file) throw new Error(`tsx at ${manifestPath} exports no ./esm/api for import`);
  return pathToFileURL(join(dirname(manifestPath), file)).href;
}
