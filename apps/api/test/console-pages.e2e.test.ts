import { readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertConsoleBuilt, launchChromium, type ChromiumSession, type Page } from '@clipwire/web/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSignedIn } from './support/console.js';
import { CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * The console's Usage page in Chromium (tasks and cost units per provider per UTC day as charts, the
 * totals, the CSV export), then a tour of every page at desktop width and on a 390 px phone that saves
 * docs/screenshots/pages/<page>-desktop.png and -phone.png (linked from the README), failing on any
 * browser error and on a page wider than the phone.
 */
const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'docs', 'screenshots', 'pages');

let stack: Stack;
let browser: ChromiumSession;
let apiKey: string;
const taskIds: string[] = [];
const errors: string[] = [];

beforeAll(async () => {
  assertConsoleBuilt();
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
  stack = await startStack();
  ({ apiKey } = await stack.newTenant('console-pages'));
  for (const externalTaskId of ['usage-1', 'usage-2']) {
    const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId } }, apiKey);
    taskIds.push(res.data!.createAvatarVideo.id);
  }
  await stack.waitForAllFinal(apiKey);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const signedIn = (path: string, viewport?: { width: number; height: number }): Promise<Page> =>
  openSignedIn(browser, `${stack.url}/${path}`, apiKey, errors, viewport);

describe('console usage page', () => {
  it('charts tasks and cost per provider per day, totals them, and exports the same as CSV', async () => {
    const page = await signedIn('#/usage');
    const kling = page.locator('table.usage-totals tr[data-provider="KLING"]');
    await kling.waitFor();
    const cells = async (row: string) =>
      page.locator(`table.usage-totals tr[data-provider="${row}"] td`).allTextContents();
    // Two Kling avatar tasks, both succeeded; the simulator reports 5 units each (final_unit_deduction).
    expect((await cells('KLING')).slice(0, 5)).toEqual(['2', '2', '0', '10', '0']);
    expect((await cells('ALL')).slice(0, 5)).toEqual(['2', '2', '0', '10', '0']);

    // Both charts drew bars: some pixel of each canvas is not blank.
    const drawn = await page.locator('canvas').evaluateAll((canvases) =>
      canvases.map((c) => {
        const ctx = (c as HTMLCanvasElement).getContext('2d')!;
        const { data } = ctx.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height);
        return data.some((v, i) => i % 4 === 3 && v > 0);
      }),
    );
    expect(drawn).toEqual([true, true]);

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const csv = await readFile((await (await download).path())!, 'utf8');
    const [header, ...lines] = csv.trim().split(/\r?\n/);
    expect(header!.split(',').slice(0, 4)).toEqual(['day', 'provider', 'kind', 'tasks']);
    const today = new Date().toISOString().slice(0, 10);
    expect(lines.map((l) => l.split(',').slice(0, 4).join(','))).toEqual([`${today},KLING,,2`]);

    // Another period is another query: still the same two tasks (they were made today).
    await page.getByRole('button', { name: 'Last 7 days' }).click();
    await expect
      .poll(() => page.getByRole('button', { name: 'Last 7 days' }).getAttribute('aria-pressed'))
      .toBe('true');
    expect((await cells('ALL'))[0]).toBe('2');
    await page.close();
  }, 60_000);
});

describe('every console page, desktop and phone', () => {
  it('renders each page without errors and saves its screenshots', async () => {
    const pages: [string, string, string][] = [
      ['tasks', '#/tasks', 'tr[data-task-id]'],
      ['task-detail', `#/tasks/${encodeURIComponent(taskIds[0]!)}`, 'text=Timeline'],
      ['new-task', '#/new', 'text=Create task'],
      ['providers', '#/providers', 'tr[data-provider]'],
      ['webhooks', '#/webhooks', 'h1:has-text("Webhooks")'],
      ['api-keys', '#/keys', 'h1:has-text("API keys")'],
      ['usage', '#/usage', 'table.usage-totals'],
    ];
    for (const [name, path, ready] of pages) {
      for (const [size, viewport] of [
        ['desktop', { width: 1280, height: 900 }],
        ['phone', { width: 390, height: 844 }],
      ] as const) {
        const page = await signedIn(path, viewport);
        await page.locator(ready).first().waitFor();
        // Nothing wider than the screen: no sideways scrolling on a phone.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${name} at ${size} is ${overflow}px wider than the screen`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: join(SCREENSHOTS, `${name}-${size}.png`), fullPage: true });
        await page.close();
      }
    }
    // The sign-in page, signed out.
    for (const [size, viewport] of [
      ['desktop', { width: 1280, height: 900 }],
      ['phone', { width: 390, height: 844 }],
    ] as const) {
      const page = await browser.context.newPage();
      await page.setViewportSize(viewport);
      await page.addInitScript(() => localStorage.removeItem('clipwire.apiKey'));
      await page.goto(`${stack.url}/`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, `sign-in-${size}.png`), fullPage: true });
      await page.close();
    }
    expect(errors).toEqual([]);
  }, 120_000);
});

describe('console page of a routed task', () => {
  it('shows the route (Kling refused with 1102, KIE accepted) and names the move in the timeline', async () => {
    // A tenant of its own, so that the usage figures above stay those of the two Kling tasks.
    const other = await stack.newTenant('console-route');
    stack.sim.kling.setNextCreateError({ httpStatus: 429, code: 1102, message: 'resource pack exhausted' });
    const input = { ...SAMPLE_INPUT, prompt: 'hello', route: ['KLING', 'KIE'] };
    const res = await stack.gql(CREATE_AVATAR, { input }, other.apiKey);
    const id = res.data!.createAvatarVideo.id as string;
    const final = await stack.waitForFinal(id, 'provider', undefined, other.apiKey);
    expect(final).toMatchObject({ status: 'SUCCEEDED', provider: 'KIE' });

    const page = await openSignedIn(browser, `${stack.url}/#/tasks/${encodeURIComponent(id)}`, other.apiKey, errors);
    const route = page.locator('section[aria-labelledby="route-h"]');
    await route.locator('li[data-outcome="ACCEPTED"]').waitFor();
    const items = await route.locator('li').allInnerTexts();
    expect(items).toHaveLength(2);
    expect(items[0]).toMatch(/Kling[\s\S]*Refused[\s\S]*1102[\s\S]*resource pack exhausted/);
    expect(items[1]).toMatch(/KIE[\s\S]*Accepted/);
    expect(await page.locator('[data-path="route"]').textContent()).toMatch(/Kling → KIE\.ai/);
    const moved = page.locator('li[data-event-type="ROUTED"]');
    expect(await moved.textContent()).toMatch(/Next provider[\s\S]*trying KIE/);
    await page.screenshot({ path: join(SCREENSHOTS, 'task-route-desktop.png'), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  }, 60_000);
});
