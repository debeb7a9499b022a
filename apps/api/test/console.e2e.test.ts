import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '@clipwire/providers/simulator';
import { assertConsoleBuilt, launchChromium, type ChromiumSession, type Page } from '@clipwire/web/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage, openSignedIn } from './support/console.js';
import { eventually, startStack, type Stack } from './support/stack.js';

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

  /** A page signed in with the sandbox key (the sign-in form itself is the first test's first step). */
  const open = (path: string) => openSignedIn(browser, `${stack.url}${path}`, stack.apiKey, consoleErrors);

  /** Runs one step; on failure says which, with what the pages showed and the browser logged. */
  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const pages = await Promise.all(
        browser.context.pages().map(
          async (p) =>
            `${p.url()}\n${(
              await p
                .locator('body')
                // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, not a DOM node
                .innerText()
                .catch(() => '?')
            ).slice(0, 1500)}`,
        ),
      );
      throw new Error(
        `step "${name}" failed: ${(error as Error).message}\nconsole errors: ${JSON.stringify(consoleErrors)}\npages:\n${pages.join('\n---\n')}`,
        { cause: error },
      );
    }
  }

  const shot = (page: Page, name: string, fullPage = false) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
  const taskCount = async () =>
    (await stack.gql('{ tasks(first: 10) { edges { node { id } } } }')).data!.tasks.edges.length as number;

  it('signs in, creates a Kling task from uploads, follows it live in two tabs and plays the video', async () => {
    browser.context.setDefaultTimeout(15_000);
    const page = await openPage(browser, `${stack.url}/`, consoleErrors);

    await step('sign in with the pre-filled sandbox key', async () => {
      const key = page.getByLabel('API key');
      await expect.poll(() => key.inputValue(), { timeout: 10_000 }).toBe(stack.apiKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
      await page.getByText('No tasks yet.').waitFor();
      expect(await page.evaluate(() => localStorage.getItem('clipwire.apiKey'))).toBe(stack.apiKey);
    });

    await step('a 200×200 portrait: the server’s error next to the image field, no task', async () => {
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
    });

    const taskId = await step('upload the real portrait and create the task', async () => {
      await page.setInputFiles('#f-image', PORTRAIT);
      await page.locator('.field-error[data-field="image"]').waitFor({ state: 'detached' });
      await page.getByRole('img', { name: /Preview of the chosen portrait image/ }).waitFor();
      await page.getByLabel('External task id').fill('console-e2e-1');
      await shot(page, 'new-task', true);
      await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'no reload'));
      await page.getByRole('button', { name: 'Create task' }).click();
      await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
      const created = await stack.gql<{ task: { id: string; input: Record<string, any> } }>(
        '{ task(externalTaskId: "console-e2e-1") { id input } }',
      );
      expect(created.data!.task.input.image.file).toMatchObject({ size: 43133, type: 'image/png' });
      return created.data!.task.id;
    });

    const row = (p: Page) => p.locator(`tr[data-task-id="${taskId}"]`);
    await step('its row goes to SUCCEEDED live, in this tab and in a second one', async () => {
      await row(page).waitFor();
      expect(RUNNING).toContain(await row(page).getAttribute('data-status'));
      // A second tab, opened while the task runs, sees the same changes.
      const second = await open('/#/tasks');
      await row(second).waitFor();
      expect(RUNNING).toContain(await row(second).getAttribute('data-status'));
      await Promise.all(
        [page, second].map((p) =>
          p.locator(`tr[data-task-id="${taskId}"][data-status="SUCCEEDED"]`).waitFor({ timeout: 20_000 }),
        ),
      );
      expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');
      await shot(page, 'tasks');
      // The same list on a phone: rows become cards.
      await second.setViewportSize({ width: 390, height: 760 });
      await shot(second, 'tasks-phone');
      await second.close();
    });

    await step('the detail: timeline, input, and a playable video from the simulator', async () => {
      // Its outputs archived first: the timeline then ends with that event.
      await eventually(
        async () =>
          (await stack.gql(`{ task(id: "${taskId}") { videos { archiveStatus } } }`)).data?.task?.videos?.[0]
            ?.archiveStatus === 'ARCHIVED',
        15_000,
        'the outputs archived',
      );
      await row(page).getByRole('link').click();
      await page.getByRole('heading', { name: 'Timeline' }).waitFor();
      const timeline = page.locator('ol.timeline');
      await timeline.locator('li[data-event-type="OUTPUTS_ARCHIVED"]').waitFor();
      // The archive is named as such, not shown as a second "Succeeded" (its event keeps the status).
      expect(await timeline.locator('li[data-event-type="OUTPUTS_ARCHIVED"]').textContent()).toMatch(
        /^Outputs archived/,
      );
      expect(await timeline.locator('[data-status="SUCCEEDED"]').count()).toBe(1);
      expect(await timeline.locator('li').count()).toBeGreaterThanOrEqual(4);
      await page.getByText('uploaded portrait-512x640.png', { exact: false }).waitFor();
      const video = page.getByRole('region', { name: 'Outputs' }).locator('video').first();
      await video.waitFor();
      const duration = await video.evaluate(async (v: HTMLVideoElement) => {
        v.muted = true;
        if (v.readyState < 1) {
          await new Promise((resolve, reject) => {
            v.addEventListener('loadedmetadata', resolve, { once: true });
            v.addEventListener('error', () => reject(new Error(`video error ${v.error?.code}: ${v.error?.message}`)), {
              once: true,
            });
          });
        }
        await v.play();
        v.pause();
        v.currentTime = 0;
        return v.duration;
      });
      // As long as its speech (speech-3s.mp3: 3.056 s), made by the simulator, and played by Chromium.
      expect(duration).toBeCloseTo(3.056, 1);
      await shot(page, 'task-detail', true);
    });

    await step('providers: mode, capabilities, health and load', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Providers' }).click();
      const kling = page.locator('tr[data-provider="KLING"]');
      await kling.waitFor();
      expect(await kling.textContent()).toMatch(/Sandbox/);
      expect(await kling.locator('[data-circuit]').getAttribute('data-circuit')).toBe('CLOSED');
      await shot(page, 'providers');
    });

    await page.close();
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('prevents "no watermark" with a cloned voice, and shows a sandbox failure with its provider code', async () => {
    const page = await open('/#/new');
    await step('"No watermark" is offered with a recording only', async () => {
      await page.getByRole('heading', { level: 1, name: 'New task' }).waitFor();
      await page.getByText('Digital human', { exact: true }).first().click();
      const box = page.locator('#f-digitalHuman-noWatermark');
      await box.check();
      await page.getByText('Cloned voice', { exact: true }).click();
      expect(await box.isDisabled()).toBe(true);
      expect(await box.isChecked()).toBe(false);
      await page.getByText(/Only with a recording/).waitFor();
      await page.getByText('Driving audio', { exact: true }).click();
      expect(await box.isDisabled()).toBe(false);
    });

    await step('a Kling task asked to FAIL in the sandbox: its detail shows Kling’s code', async () => {
      await page.getByText('Kling', { exact: true }).first().click();
      await page.setInputFiles('#f-image', PORTRAIT);
      await page.setInputFiles('#f-audio', SPEECH);
      await page.getByLabel('External task id').fill('console-e2e-fail');
      await page.locator('#f-sandbox-outcome').selectOption('FAIL');
      await page.getByRole('button', { name: 'Create task' }).click();
      await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
      const id = (await stack.gql('{ task(externalTaskId: "console-e2e-fail") { id } }')).data!.task.id;
      // Its detail page (the list's live rows are tested in console-list.e2e.test.ts).
      await page.locator(`tr[data-task-id="${id}"]`).getByRole('link').click();
      const error = page.getByRole('region', { name: 'Error' });
      await error.waitFor();
      expect(await error.textContent()).toMatch(/PROVIDER_POLICY.*1301.*sandbox outcome FAIL/s);
    });
    await page.close();
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
