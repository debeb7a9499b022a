import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '@clipwire/providers';
import { z } from 'zod';
import type { Principal } from '../auth/api-keys.js';
import type { DatabaseHandle } from '../db/client.js';
import type { FieldIssue } from '../errors.js';
import { USAGE_DIMENSIONS, usage, usageRangeIssues, type UsageDimension, type UsageRow } from '../tasks/usage.js';

export const USAGE_CSV_PATH = '/usage.csv';

/** The CSV's columns: the fields of the GraphQL UsageRow, in order. */
const COLUMNS: [string, keyof UsageRow][] = [
  ['day', 'day'],
  ['provider', 'provider'],
  ['kind', 'kind'],
  ['tasks', 'tasks'],
  ['succeeded', 'succeeded'],
  ['failed', 'failed'],
  ['canceled', 'canceled'],
  ['running', 'running'],
  ['cost_reported', 'costReported'],
  ['cost_estimated', 'costEstimated'],
  ['media_seconds', 'mediaSeconds'],
  ['outputs_without_duration', 'outputsWithoutDuration'],
  ['mean_seconds_to_complete', 'meanSecondsToComplete'],
  ['p95_seconds_to_complete', 'p95SecondsToComplete'],
];

const dateTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 date-time such as 2026-12-01T00:00:00Z',
});
const querySchema = z.object({
  from: dateTime,
  to: dateTime,
  groupBy: z.array(z.enum(USAGE_DIMENSIONS, { message: `each must be one of ${USAGE_DIMENSIONS.join(', ')}` })),
});

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled; null is empty. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function usageCsv(rows: readonly UsageRow[]): string {
  const lines = [COLUMNS.map(([name]) => name), ...rows.map((row) => COLUMNS.map(([, key]) => row[key]))];
  return lines.map((line) => `${line.map(csvField).join(',')}\r\n`).join('');
}

/**
 * GET /usage.csv?from=…&to=…[&groupBy=DAY,PROVIDER] for an authenticated key: the `usage` query's
 * answer as CSV (read as the tenant, under row-level security on PostgreSQL). groupBy may also repeat.
 */
export async function serveUsageCsv(
  db: DatabaseHandle,
  principal: Principal,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const parsed = querySchema.safeParse({
    from: params.get('from') ?? undefined,
    to: params.get('to') ?? undefined,
    groupBy: params
      .getAll('groupBy')
      .flatMap((v) => v.split(','))
      .filter((v) => v !== ''),
  });
  if (!parsed.success) {
    const issues: FieldIssue[] = parsed.error.issues.map((i) => ({ path: [String(i.path[0])], message: i.message }));
    return sendJson(res, 400, { errors: issues });
  }
  const from = new Date(parsed.data.from);
  const to = new Date(parsed.data.to);
  const issues = usageRangeIssues(from, to);
  if (issues.length > 0) return sendJson(res, 400, { errors: issues });
  const groupBy = parsed.data.groupBy as UsageDimension[];
  const rows = await db.asTenant(principal.tenantId, (tx) => usage(tx, principal.tenantId, { from, to, groupBy }));
  const body = usageCsv(rows);
  const stamp = (d: Date) => d.toISOString().replace(/[:.]/g, '-');
  res.writeHead(200, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="usage-${stamp(from)}-${stamp(to)}.csv"`,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'private, no-store',
  });
  res.end(body);
}
