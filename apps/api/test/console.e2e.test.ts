import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '@clipwire/providers/simulator';
import { assertConsoleBuilt, launchChromium, type ChromiumSession, type Page } from '@clipwire/web/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.js';

/**
 * The web console end to end: Debian's Chromium (playwright-core) against the real API and the
 * simulator. Signs in, uploads media through the form, watches a task finish live in two tabs,
 * plays its video, and fails on any browser console error. Screenshots go to docs/screenshots/.
 */
const repoRoot = join(import.meta.dirname, '..', '..', '..');
const SCREENSHOTS = join(repoRoot, 'docs', 'screenshots');
const PORTRAIT = join(fixturesDir, 'portrait-512x640.png');
const SPEECH = join(fixturesDir, 'speech-3s.mp3');
const SMALL_IMAGE = join(import.meta.dirname, 'media', 'fixtures', 'small-200x200.png');
const RUNNING = ['PENDING', 'SUBMITTED', 'PROCESSING'];

describe('web console', () => {
  let stack: Stack;
  let browser: ChromiumSession;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    assertConsoleBuilt();
    browser = await launchChromium();
    // Slow enough for a second tab to open while the task still runs.
    stack = await startStack({ kling: { timing: { processingAfterMs: 2500, succeedAfterMs: 6000 } } });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close(); // before the API stops, so closing sockets are not reported as errors
    await stack?.stop();
  });

  async function open(path = '/'): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
    await page.goto(`${stack.url}${path}`);
    return page;
  }

  const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
  const taskCount = async () => (await stack.gql('{ tasks(first: 10) { edges { node { id } } } }')).data!.tasks.edges.length as number;

  it('signs in, creates a Kling task from uploads, follows it live in two tabs and plays the video', async () => {
    const page = await open('/');

    // Sign-in: in sandbox mode the key is filled in from /console/config.json.
    const key = page.getByLabel('API key');
    await expect.poll(() => key.inputValue()).toBe(stack.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
    await page.getByText('No tasks yet.').waitFor();
    expect(await page.evaluate(() => localStorage.getItem('clipwire.apiKey'))).toBe(stack.apiKey);

    // A 200×200 portrait: the server's ValidationError is shown next to the image field; nothing is created.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New task' }).click();
    await page.getByRole('heading', { level: 1, name: 'New task' }).waitFor();
    await page.setInputFiles('#f-image', SMALL_IMAGE);
    await page.setInputFiles('#f-audio', SPEECH);
    await page.getByRole('button', { name: 'Create task' }).click();
    const imageError = page.locator('.field-error[data-field="image"]');
    await imageError.waitFor();
    expect(await imageError.textContent()).toMatch(/300 px/);
    expect(await page.locator('#f-image').getAttribute('aria-invalid')).toBe('true');
    expect(await taskCount()).toBe(0);

    // The real portrait: the error goes, the preview shows, and the task is created.
    await page.setInputFiles('#f-image', PORTRAIT);
    await imageError.waitFor({ state: 'detached' });
    await page.getByRole('img', { name: /Preview of the chosen portrait image/ }).waitFor();
    await page.getByLabel('External task id').fill('console-e2e-1');
    await shot(page, 'new-task', true);
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'no reload'));
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
    const created = await stack.gql<{ task: { id: string; input: Record<string, any> } }>(
      '{ task(externalTaskId: "console-e2e-1") { id input } }',
    );
    const taskId = created.data!.task.id;
    expect(created.data!.task.input.image.file).toMatchObject({ size: 43133, type: 'image/png' });

    // Its row goes to SUCCEEDED without a reload …
    const row = (p: Page) => p.locator(`tr[data-task-id="${taskId}"]`);
    await row(page).waitFor();
    expect(RUNNING).toContain(await row(page).getAttribute('data-status'));

    // … and a second tab, opened while it runs, sees the same changes live.
    const second = await open('/#/tasks');
    await row(second).waitFor();
    expect(RUNNING).toContain(await row(second).getAttribute('data-status'));
    await Promise.all([
      page.waitForSelector(`tr[data-task-id="${taskId}"][data-status="SUCCEEDED"]`, { timeout: 20_000 }),
      second.waitForSelector(`tr[data-task-id="${taskId}"][data-status="SUCCEEDED"]`, { timeout: 20_000 }),
    ]);
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');
    await shot(page, 'tasks');
    // The same list on a phone: rows become cards.
    await second.setViewportSize({ width: 390, height: 760 });
    await shot(second, 'tasks-phone');
    await second.close();

    // Detail: timeline with sources, the normalized input, and a playable video (served by the simulator).
    await row(page).getByRole('link').click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    const timeline = page.locator('ol.timeline li');
    await expect.poll(() => timeline.count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('ol.timeline').textContent()).toMatch(/Succeeded/);
    await page.getByText('uploaded portrait-512x640.png', { exact: false }).waitFor();
    const video = page.getByRole('region', { name: 'Outputs' }).locator('video').first();
    await video.waitFor();
    const duration = await video.evaluate(async (v: HTMLVideoElement) => {
      v.muted = true;
      if (v.readyState < 1) await new Promise((resolve, reject) => {
        v.addEventListener('loadedmetadata', resolve, { once: true });
        v.addEventListener('error', () => reject(new Error(`video error ${v.error?.code}: ${v.error?.message}`)), { once: true });
        v.load();
      });
      await v.play();
      v.pause();
      v.currentTime = 0;
      return v.duration;
    });
    expect(duration).toBeGreaterThan(0);
    await shot(page, 'task-detail', true);

    // Providers: mode, capabilities, health and load.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Providers' }).click();
    const kling = page.locator('tr[data-provider="KLING"]');
    await kling.waitFor();
    expect(await kling.textContent()).toMatch(/Sandbox/);
    expect(await kling.locator('[data-circuit]').getAttribute('data-circuit')).toBe('CLOSED');
    await shot(page, 'providers');

    await page.close();
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
