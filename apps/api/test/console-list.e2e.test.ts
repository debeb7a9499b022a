import { assertConsoleBuilt, launchChromium, type ChromiumSession, type Page } from '@clipwire/web/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSignedIn } from './support/console.js';
import { CREATE_AVATAR, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * The console's task list in Chromium, live: a task created through the API appears without a reload
 * (at the top, or behind an "n new tasks" button when the user has scrolled down), statuses move in
 * place, filters and search live in the URL (a reload shows the same view), the count and the end of
 * the list are shown, and a phone shows at least four task cards per screen.
 */
let stack: Stack;
let browser: ChromiumSession;
let apiKey: string;
const errors: string[] = [];

beforeAll(async () => {
  assertConsoleBuilt();
  browser = await launchChromium();
  stack = await startStack();
  ({ apiKey } = await stack.newTenant('console-list'));
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const signedIn = (path: string, viewport?: { width: number; height: number }): Promise<Page> =>
  openSignedIn(browser, `${stack.url}/${path}`, apiKey, errors, viewport);

async function create(externalTaskId: string): Promise<string> {
  const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId } }, apiKey);
  expect(res.errors).toBeUndefined();
  return res.data!.createAvatarVideo.id as string;
}

const row = (page: Page, id: string) => page.locator(`tr[data-task-id="${id}"]`);

describe('console task list', () => {
  it('shows a task created through the API within 2 s without a reload, and its status moves live', async () => {
    const page = await signedIn('#/tasks');
    await page.getByText('No tasks yet.').waitFor();
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'no reload'));

    const id = await create('live-1');
    await row(page, id).waitFor({ timeout: 2_000 });
    await page.locator(`tr[data-task-id="${id}"][data-status="SUCCEEDED"]`).waitFor({ timeout: 20_000 });
    expect(await page.locator('.list-count').getAttribute('data-total')).toBe('1');
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');
    await page.close();
  }, 60_000);

  it('puts tasks that arrive while the user is scrolled down behind an "n new tasks" button', async () => {
    for (let i = 0; i < 12; i++) await create(`bulk-${i}`);
    const page = await signedIn('#/tasks', { width: 1000, height: 500 });
    await page.locator('tr[data-task-id]').nth(12).waitFor();
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await expect.poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(200);

    const id = await create('while-scrolled');
    const button = page.getByRole('button', { name: /^1 new task/ });
    await button.waitFor({ timeout: 5_000 });
    expect(await row(page, id).count()).toBe(0);
    await button.click();
    await row(page, id).waitFor();
    expect(await page.locator('tr[data-task-id]').first().getAttribute('data-task-id')).toBe(id);
    await expect.poll(() => page.evaluate(() => window.scrollY)).toBeLessThan(50);
    expect(await page.locator('.list-count').getAttribute('data-total')).toBe('14');
    // Exactly once, though the feed also brought its later status changes.
    await page.locator(`tr[data-task-id="${id}"][data-status="SUCCEEDED"]`).waitFor({ timeout: 20_000 });
    expect(await row(page, id).count()).toBe(1);
    await page.close();
  }, 90_000);

  it('keeps filters and search in the URL: a reload shows the same view; the panel stays open', async () => {
    await stack.waitForAllFinal(apiKey);
    const page = await signedIn('#/tasks');
    await page.locator('tr[data-task-id]').first().waitFor();

    await page.getByLabel('External id starts with').fill('bulk-1');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('summary', { hasText: 'Filters' }).click();
    await page.getByLabel('Succeeded').check();
    await expect.poll(() => page.url()).toContain('status=SUCCEEDED');
    expect(page.url()).toContain('q=bulk-1');
    // bulk-1, bulk-10, bulk-11
    await expect.poll(() => page.locator('tr[data-task-id]').count()).toBe(3);
    expect(await page.locator('.list-count').textContent()).toBe('3 tasks match the filters');
    await page.getByText('End of the list.').waitFor();

    await page.reload();
    await page.locator('tr[data-task-id]').first().waitFor();
    expect(await page.locator('tr[data-task-id]').count()).toBe(3);
    expect(await page.getByLabel('Succeeded').isChecked()).toBe(true);
    expect(await page.getByLabel('External id starts with').inputValue()).toBe('bulk-1');

    // Unchecking the last box leaves the panel open.
    await page.getByLabel('Succeeded').uncheck();
    await expect.poll(() => page.url()).not.toContain('status=');
    expect(await page.locator('details.filters').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);

    // A creation range: from tomorrow matches nothing; from today matches them again.
    const day = (offset: number) => {
      const d = new Date();
      d.setDate(d.getDate() + offset);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    };
    await page.getByLabel('From').fill(day(1));
    await page.getByText('No tasks match these filters.').waitFor();
    expect(page.url()).toContain(`from=${day(1)}`);
    await page.getByLabel('From').fill(day(0));
    await expect.poll(() => page.locator('tr[data-task-id]').count()).toBe(3);
    await page.close();
  }, 60_000);

  it('shows at least four task cards per screen on a 390 px phone', async () => {
    const page = await signedIn('#/tasks', { width: 390, height: 760 });
    await page.locator('tr[data-task-id]').nth(5).waitFor();
    const heights = await page
      .locator('tr[data-task-id]')
      .evaluateAll((rows) => rows.slice(0, 6).map((r) => r.getBoundingClientRect().height));
    for (const h of heights) expect(h).toBeLessThanOrEqual(760 / 4);
    await page.close();
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('console task page', () => {
  it('copies ids, offers Refresh only while running, and "Run again" fills the form from the task', async () => {
    const res = await stack.gql(
      CREATE_AVATAR,
      { input: { ...SAMPLE_INPUT, prompt: 'wave hello', kling: { mode: 'PRO' }, externalTaskId: 'again-1' } },
      apiKey,
    );
    const id = res.data!.createAvatarVideo.id as string;
    await stack.waitForFinal(id, 'id', undefined, apiKey);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
    const page = await signedIn(`#/tasks/${id}`);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    // Finished: nothing to refresh from the provider.
    expect(await page.getByRole('button', { name: 'Refresh from provider' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Copy task id' }).click();
    await page.getByText('Copied.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(id);

    // The input's stored media (sent inline) previewed from signed links: the image decodes, the audio loads.
    const image = page.locator('[data-input-media="image"] img');
    await expect
      .poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 10_000 })
      .toBe(512);
    const audio = page.locator('[data-input-media="audio"] audio');
    await expect
      .poll(() => audio.evaluate((a: HTMLAudioElement) => a.readyState >= 1 && a.duration), { timeout: 10_000 })
      .toBeGreaterThan(2.5);
    // The same through the API: each stored input with a link that serves its bytes.
    const listed = await stack.gql(`{ task(id: "${id}") { inputMedia { mime sizeBytes url } } }`, {}, apiKey);
    const media = listed.data!.task.inputMedia as { mime: string; sizeBytes: number; url: string }[];
    expect(media.map((m) => m.mime).sort()).toEqual(['audio/mpeg', 'image/png']);
    for (const m of media) {
      const res = await fetch(m.url);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(m.sizeBytes);
    }

    await page.getByRole('link', { name: 'Run again' }).click();
    await page.getByRole('heading', { name: 'New task' }).waitFor();
    await page.getByText('Filled from task').waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'Filled from task' }).textContent()).toContain(
      'Attach again: image, audio',
    );
    expect(await page.getByLabel('Prompt').inputValue()).toBe('wave hello');
    expect(await page.getByLabel('Mode').inputValue()).toBe('PRO');
    expect(await page.getByLabel('External task id').inputValue()).toBe('');
    expect(page.url()).toContain(`#/new?from=${encodeURIComponent(id)}`);
    await page.close();
    expect(errors).toEqual([]);
  }, 60_000);
});
