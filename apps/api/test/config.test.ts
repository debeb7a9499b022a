import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('defaults to sandbox Kling, PGlite in .data and port 4000 with an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.database).toEqual({
      kind: 'pglite',
      dataDir: fileURLToPath(new URL('../../../.data', import.meta.url)),
    });
    expect(config.kling.mode).toBe('SANDBOX');
  });

  it('switches to Postgres with DATABASE_URL and to live Kling with credentials', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@h:5432/d',
      KLING_ACCESS_KEY: 'ak',
      KLING_SECRET_KEY: 'sk',
    });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u@h:5432/d' });
    expect(config.kling).toMatchObject({
      mode: 'LIVE',
      baseUrl: 'https://api-singapore.klingai.com',
      auth: { accessKey: 'ak', secretKey: 'sk' },
    });
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', KLING_ACCESS_KEY: 'only-half', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT/);
    expect(problems).toMatch(/DATABASE_URL/);
    expect(problems).toMatch(/LOG_LEVEL/);
    expect(problems).toMatch(/KLING_ACCESS_KEY/);
  });
});
