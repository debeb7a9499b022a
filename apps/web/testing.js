// Browser harness for end-to-end tests of the console (apps/api/test/console.e2e.test.ts):
// Debian's Chromium driven by playwright-core, against the console as built in dist/.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { webRoot } from './index.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Throws unless `vite build` has produced the console the API serves. */
export function assertConsoleBuilt() {
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new Error(
      `The web console is not built (${join(webRoot, 'index.html')} is missing): run \`pnpm --filter @clipwire/web build\` (the root \`pnpm test\` does).`,
    );
  }
}

/** Starts headless Chromium with a fresh profile; `close()` stops it and deletes the profile. */
export async function launchChromium(options = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}: the console end-to-end test drives it. Install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`,
    );
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'clipwire-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--autoplay-policy=no-user-gesture-required',
      ],
      viewport: options.viewport ?? { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      reducedMotion: 'reduce',
    });
    return {
      context,
      async close() {
        await context.close().catch(() => {});
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
