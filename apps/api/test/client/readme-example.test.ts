import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

/*
 * The README's partner example, taken from between its markers and run as written: plain `node`,
 * from the repository root, importing the built @clipwire/client — against a test stack, whose
 * address and key it reads from CLIPWIRE_API_URL and CLIPWIRE_API_KEY (against `pnpm start` it
 * uses its defaults: port 4000 and .data/sandbox-api-key).
 */

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');

function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- client-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- client-example:end -->/.exec(readme);
  if (!block) throw new Error('README.md has no client example between its markers');
  return block[1]!;
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

describe('the README client example', () => {
  it('runs as written and prints the task statuses up to SUCCEEDED, then the video URL', async () => {
    if (!existsSync(join(ROOT, 'packages', 'client', 'dist', 'index.js')))
      throw new Error('@clipwire/client is not built: run `pnpm build` first');
    const code = readmeExample();
    expect(code.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(13);
    // Under the root node_modules (ignored by git), so `@clipwire/client` resolves as it does from the root.
    const dir = join(ROOT, 'node_modules', '.cache', 'clipwire-readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `partner-${process.pid}.mjs`);
    writeFileSync(file, code);

    const { stdout } = await promisify(execFile)(process.execPath, [file], {
      cwd: ROOT,
      env: { ...process.env, CLIPWIRE_API_URL: stack.url, CLIPWIRE_API_KEY: stack.apiKey },
      timeout: 60_000,
    }).finally(() => rmSync(file, { force: true }));
    const lines = stdout.trim().split('\n');
    const statuses = lines.slice(0, -1).map((l) => l.split(' ')[0]);
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(statuses.every((s) => ['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED'].includes(s!))).toBe(true);
    expect(lines.at(-1)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.+\.mp4/);
    // The task it made, as the API has it.
    const { data } = await stack.gql('{ tasks(first: 1) { edges { node { status videos { url providerUrl } } } } }');
    const node = data!.tasks.edges[0].node;
    expect(node.status).toBe('SUCCEEDED');
    // The link the task had when it finished: the provider's, or Clipwire's copy once the archive has run.
    expect([node.videos[0].url, node.videos[0].providerUrl]).toContain(lines.at(-1));
  });
});
