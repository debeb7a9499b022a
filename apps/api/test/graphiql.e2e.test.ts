import { launchChromium, type ChromiumSession } from '@clipwire/web/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

/**
 * GraphiQL in Chromium with every request outside the API refused (no CDN, as on a machine without
 * internet): the page renders, loads the schema by introspection with the key the console signed in
 * with, and runs a subscription over WebSocket with that key as connectionParams.
 */
let stack: Stack;
let browser: ChromiumSession;
beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('GraphiQL', () => {
  it('works offline, signed in as the console: schema loaded, a subscription delivers', {
    timeout: 60_000,
  }, async () => {
    const outside: string[] = [];
    await browser.context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(stack.url)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const frames: string[] = [];
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => frames.push(`sent ${f.payload}`));
      ws.on('framereceived', (f) => frames.push(`received ${f.payload}`));
    });

    // Signed in to the console (same origin): its key is what GraphiQL uses.
    await page.goto(`${stack.url}/healthz`);
    await page.evaluate((key) => localStorage.setItem('clipwire.apiKey', key), stack.apiKey);

    const introspection = page.waitForResponse(
      (r) => r.url() === `${stack.url}/graphql` && (r.request().postData() ?? '').includes('__schema'),
    );
    const subscription = 'subscription { taskEvents { cursor status } }';
    await page.goto(`${stack.url}/graphql?query=${encodeURIComponent(subscription)}`);
    const schema = (await (await introspection).json()) as {
      data?: { __schema: { types: unknown[] } };
      errors?: unknown;
    };
    expect(schema.errors).toBeUndefined();
    expect(schema.data!.__schema.types.length).toBeGreaterThan(20);

    // The Headers editor shows the key the requests carry.
    await page.getByRole('button', { name: 'Headers' }).click();
    const editors = async () => ((await page.locator('.graphiql-editors').textContent()) ?? '').replace(/\u00a0/g, ' ');
    await eventually(
      async () => (await editors()).includes(`"authorization": "Bearer ${stack.apiKey}"`),
      10_000,
      'the Headers editor pre-filled with the key',
    );

    await page.locator('.graphiql-execute-button').click();
    await eventually(
      async () => frames.some((f) => f.startsWith('received') && f.includes('connection_ack')),
      10_000,
      'the WebSocket acknowledged',
    );
    const init = frames.find((f) => f.includes('connection_init'))!;
    expect(init).toContain(`"authorization":"Bearer ${stack.apiKey}"`);
    await eventually(
      async () => frames.some((f) => f.startsWith('sent') && f.includes('"subscribe"')),
      10_000,
      'the subscribe',
    );

    await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT } });
    await eventually(
      async () => frames.some((f) => f.startsWith('received') && f.includes('"taskEvents"')),
      10_000,
      'an event',
    );

    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
  });
});
