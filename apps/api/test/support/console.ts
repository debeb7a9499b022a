import type { ChromiumSession, Page } from '@clipwire/web/testing';

/** A console page opened signed out, whose browser errors (console errors, uncaught exceptions) are added to `errors`. */
export async function openPage(
  browser: ChromiumSession,
  url: string,
  errors: string[],
  viewport = { width: 1280, height: 900 },
  beforeLoad?: (page: Page) => Promise<unknown>,
): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} (${page.url()})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  await beforeLoad?.(page);
  await page.goto(url);
  return page;
}

/**
 * A console page opened signed in with `apiKey` (set before the console's own scripts run), whose
 * browser errors (console errors, uncaught exceptions) are added to `errors`.
 */
export function openSignedIn(
  browser: ChromiumSession,
  url: string,
  apiKey: string,
  errors: string[],
  viewport = { width: 1280, height: 900 },
): Promise<Page> {
  return openPage(browser, url, errors, viewport, (page) =>
    page.addInitScript((key) => localStorage.setItem('clipwire.apiKey', key), apiKey),
  );
}
