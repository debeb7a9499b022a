import type { BrowserContext } from 'playwright-core';

export type { BrowserContext, ConsoleMessage, Locator, Page } from 'playwright-core';

/** Where Chromium is expected (`CHROMIUM_PATH`, default /usr/bin/chromium). */
export declare const CHROMIUM_PATH: string;

/** Throws unless `vite build` has produced the console the API serves. */
export declare function assertConsoleBuilt(): void;

export interface ChromiumSession {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile; throws a clear message when Chromium is missing. */
export declare function launchChromium(options?: {
  viewport?: { width: number; height: number };
}): Promise<ChromiumSession>;
