import { describe, expect, it } from 'vitest';
import {
  ProviderError,
  isTerminal,
  klingStatusToUnified,
  parseRetryAfter,
  statusRank,
  UNIFIED_STATUSES,
} from '../src/index.js';
import { classifyKlingError } from '../src/kling/index.js';

describe('unified status', () => {
  it.each([
    ['submitted', 'QUEUED'],
    ['processing', 'RUNNING'],
    ['succeed', 'SUCCEEDED'],
    ['succeeded', 'SUCCEEDED'],
    ['failed', 'FAILED'],
    ['weird', 'UNKNOWN'],
    ['', 'UNKNOWN'],
  ])('Kling %j maps to %s', (raw, unified) => {
    expect(klingStatusToUnified(raw)).toBe(unified);
  });

  it('only SUCCEEDED and FAILED are terminal; UNKNOWN keeps polling', () => {
    expect(UNIFIED_STATUSES.filter(isTerminal)).toEqual(['SUCCEEDED', 'FAILED']);
  });

  it('rank never lets UNKNOWN or an earlier status replace a later one', () => {
    expect(statusRank('UNKNOWN')).toBeLessThan(statusRank('QUEUED'));
    expect(statusRank('QUEUED')).toBeLessThan(statusRank('RUNNING'));
    expect(statusRank('RUNNING')).toBeLessThan(statusRank('SUCCEEDED'));
    expect(statusRank('SUCCEEDED')).toBe(statusRank('FAILED'));
  });
});

describe('Retry-After', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it('parses delta-seconds, HTTP dates, and ignores garbage', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(['2'], now)).toBe(2000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('Kling business-code classification', () => {
  it.each([
    [401, 1000, 'auth', false],
    [401, 1001, 'auth', false],
    [401, 1002, 'auth', false],
    [401, 1003, 'auth', false],
    [401, 1004, 'auth', false],
    [429, 1100, 'quota', false],
    [429, 1101, 'quota', false],
    [429, 1102, 'quota', false],
    [403, 1103, 'permission', false],
    [400, 1200, 'validation', false],
    [400, 1201, 'validation', false],
    [404, 1202, 'not_found', false],
    [404, 1203, 'not_found', false],
    [400, 1300, 'policy', false],
    [400, 1301, 'policy', false],
    [429, 1302, 'rate_limit', true],
    [429, 1303, 'concurrency', true],
    [429, 1304, 'permission', false],
    [500, 5000, 'upstream', true],
    [503, 5001, 'upstream', true],
    [504, 5002, 'upstream', true],
    [500, 5099, 'upstream', true], // unknown 5xxx
    [502, 1999, 'upstream', true], // unknown code, HTTP 5xx
    [400, 1999, 'validation', false], // unknown code otherwise: not retryable
    [200, 4242, 'upstream', false],
  ] as const)('HTTP %i code %i → %s, retryable %s', (httpStatus, code, kind, retryable) => {
    const err = classifyKlingError({ httpStatus, code, message: 'm' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ provider: 'kling', code: String(code), kind, retryable, httpStatus });
  });
});
