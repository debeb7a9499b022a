import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertConsoleBuilt, launchChromium, type ChromiumSession, type Page } from '@clipwire/web/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type WebhookReceiver } from './resilience/resilience-support.js';
import { openSignedIn } from './support/console.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * The console's Webhooks and API keys pages end to end: Debian's Chromium (playwright-core) against
 * the real API and a real receiving HTTP server on loopback. Screenshots go to docs/screenshots/.
 */
const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'docs', 'screenshots');

describe('web console: webhooks and API keys', () => {
  let stack: Stack;
  let browser: ChromiumSession;
  let receiver: WebhookReceiver;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    assertConsoleBuilt();
    receiver = await startReceiver();
    receiver.answer('/fail', { status: 500, body: 'boom: receiver down' });
    browser = await launchChromium();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write']);
    // A failed delivery stays RETRYING (its next retry a minute away) while the page is looked at.
    stack = await startStack({ env: { WEBHOOK_ALLOW_ORIGINS: receiver.origin }, webhookScheduleMs: [60_000] });
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await receiver?.stop();
  });

  const open = (path = '/') => openSignedIn(browser, `${stack.url}${path}`, stack.apiKey, consoleErrors);

  /** Runs one step; on failure says which, with what the page showed and the browser logged. */
  async function step<T>(page: Page, name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const text = await page
        .locator('body')
        // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, not a DOM node
        .innerText()
        .catch(() => '?');
      throw new Error(
        `step "${name}" failed: ${(error as Error).message}\nconsole errors: ${JSON.stringify(consoleErrors)}\npage:\n${text.slice(0, 2000)}`,
        { cause: error },
      );
    }
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());

  it('sets the default URL, sends a test event, rotates the secret, shows the delivery log and redelivers', {
    timeout: 90_000,
  }, async () => {
    browser.context.setDefaultTimeout(15_000);
    // A task whose webhook receiver fails: its first delivery is in the log with a failed attempt.
    const created = await stack.gql(CREATE_AVATAR, {
      input: { ...SAMPLE_INPUT, externalTaskId: 'console-webhooks', webhookUrl: `${receiver.origin}/fail` },
    });
    expect(created.data?.createAvatarVideo?.__typename, JSON.stringify(created)).toBe('Task');
    await eventually(async () => receiver.on('/fail').length > 0, 15_000, 'a failed delivery');

    const page = await open('/');
    await step(page, 'open Webhooks from the navigation', async () => {
      await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    });

    await step(page, 'a private URL is refused next to the field; the receiver’s URL is saved', async () => {
      const field = page.getByLabel('Default webhook URL');
      await field.fill('http://127.0.0.1:1/hook');
      await page.getByRole('button', { name: 'Save URL' }).click();
      const error = page.locator('.field-error[data-field="webhook-url"]');
      await error.waitFor();
      expect(await error.textContent()).toContain('WEBHOOK_ALLOW_ORIGINS');
      expect((await stack.gql('{ webhookSettings { defaultUrl } }')).data!.webhookSettings.defaultUrl).toBeNull();
      await field.fill(`${receiver.origin}/hook`);
      await page.getByRole('button', { name: 'Save URL' }).click();
      await page.getByText('Saved.').waitFor();
      expect((await stack.gql('{ webhookSettings { defaultUrl } }')).data!.webhookSettings.defaultUrl).toBe(
        `${receiver.origin}/hook`,
      );
    });

    await step(page, 'a test event goes to the default URL and its outcome is shown', async () => {
      const before = receiver.deliveries.length;
      await page.getByRole('button', { name: 'Send test event' }).click();
      const result = page.getByTestId('test-result');
      await result.waitFor();
      expect(await result.textContent()).toMatch(/Delivered · HTTP 204 · \d+ ms/);
      const sent = receiver.deliveries.slice(before);
      expect(sent.map((r) => [r.path, JSON.parse(r.raw).type])).toEqual([['/hook', 'webhook.test']]);
    });

    await step(page, 'rotating the secret (with grace hours, confirmed) shows the new one once, copyable', async () => {
      page.once('dialog', (d) => void d.accept());
      await page.getByLabel('Grace hours').fill('2');
      await page.getByRole('button', { name: 'Rotate secret' }).click();
      const shown = page.getByTestId('new-secret');
      await shown.waitFor();
      const secret = (await stack.gql('{ webhookSettings { secret } }')).data!.webhookSettings.secret as string;
      expect(await shown.textContent()).toContain(secret);
      await shown.getByRole('button', { name: 'Copy secret' }).click();
      await shown.getByText('Copied.').waitFor();
      expect(await clipboard(page)).toBe(secret);
    });

    const failing = page.locator('.delivery[data-status="RETRYING"]').first();
    await step(page, 'the delivery log shows the failed attempt, its response and the next retry', async () => {
      await failing.waitFor();
      await failing.locator('summary').click();
      const attempt = failing.locator('table.attempts tbody tr').first();
      await attempt.waitFor();
      // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, not a DOM node
      const text = await attempt.innerText();
      expect(text).toContain('500');
      expect(text).toContain('receiver answered HTTP 500');
      expect(text).toContain('boom: receiver down');
      expect(await failing.locator('summary').textContent()).toContain('next retry');
      await shot(page, 'webhooks');
    });

    await step(page, 'Redeliver queues a new delivery of the same event, which the receiver gets', async () => {
      const id = await failing.getAttribute('data-delivery-id');
      const before = receiver.on('/fail').length;
      await failing.getByRole('button', { name: 'Redeliver' }).click();
      await failing.getByText('Queued again as a new delivery').waitFor();
      const log = await stack.gql('{ webhookDeliveries(first: 50) { edges { node { id redeliveryOf } } } }');
      expect(log.data!.webhookDeliveries.edges.some((e: any) => e.node.redeliveryOf === id)).toBe(true);
      await eventually(async () => receiver.on('/fail').length > before, 10_000, 'the redelivery at the receiver');
    });
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('lists keys with creation and last use, creates one shown once with a copy button, and revokes it', {
    timeout: 60_000,
  }, async () => {
    const page = await open('/#/keys');
    const sandboxRow = () => page.locator('tr[data-state="active"]').first();
    await step(page, 'the keys page lists the signed-in key with its last use', async () => {
      await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
      await sandboxRow().waitFor();
      // Written within a second or so of its first use: refresh until it shows.
      await expect
        .poll(
          async () => {
            await page.getByRole('button', { name: 'Refresh' }).click();
            return sandboxRow().locator('[data-field="last-used"] time').count();
          },
          { timeout: 15_000 },
        )
        .toBe(1);
      expect(await sandboxRow().locator('td[data-label="Created"] time').count()).toBe(1);
    });

    const key = await step(page, 'create a key: shown once, copied with the button', async () => {
      await page.getByLabel('Name').fill('ci pipeline');
      await page.getByRole('button', { name: 'Create key' }).click();
      const shown = page.getByTestId('new-key');
      await shown.waitFor();
      const text = (await shown.locator('.mono').textContent()) ?? '';
      expect(text).toMatch(/^cw_sk_[A-Za-z0-9_-]{43}$/);
      await shown.getByRole('button', { name: 'Copy key' }).click();
      await shown.getByText('Copied.').waitFor();
      expect(await clipboard(page)).toBe(text);
      // The key works.
      expect((await stack.gql('{ apiKeys { id } }', {}, text)).status).toBe(200);
      await shot(page, 'api-keys');
      return text;
    });

    await step(page, 'revoke it after confirming: refused from then on', async () => {
      const row = page.locator('tr', { has: page.getByRole('rowheader', { name: 'ci pipeline' }) });
      page.once('dialog', (d) => void d.accept());
      await row.getByRole('button', { name: /Revoke ci pipeline/ }).click();
      await page
        .locator('tr[data-state="revoked"]', { has: page.getByRole('rowheader', { name: 'ci pipeline' }) })
        .waitFor();
      await eventually(async () => (await stack.gql('{ apiKeys { id } }', {}, key)).status === 401, 10_000, '401');
    });
    expect(consoleErrors).toEqual([]);
    await page.close();
  });
});
