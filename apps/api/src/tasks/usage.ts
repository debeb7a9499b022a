import type { Provider, TaskKind } from '@clipwire/schema';
import { tasks } from '@clipwire/schema/tables';
import { sql, type SQL } from 'drizzle-orm';
import { type DbOrTx, rowsOf } from '../db/client.js';
import type { FieldIssue } from '../errors.js';
import { estimatedCost, reportedCost } from './cost.js';

export const USAGE_DIMENSIONS = ['DAY', 'PROVIDER', 'KIND'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];
export const MAX_USAGE_SPAN_DAYS = 366;

/** One bucket of usage: the tasks created in it (a UTC day, a provider, a kind, as grouped). */
export interface UsageRow {
  /** The UTC day (YYYY-MM-DD) when grouped by DAY. */
  day: string | null;
  provider: Provider | null;
  kind: TaskKind | null;
  tasks: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Not final yet (PENDING, SUBMITTED, PROCESSING). */
  running: number;
  costReported: number;
  costEstimated: number;
  /** Seconds of media generated: the videos of avatar tasks, the audios of video-sound tasks, where a duration is known. */
  mediaSeconds: number;
  /** Outputs whose duration the provider did not give (not in mediaSeconds). */
  outputsWithoutDuration: number;
  /** From creation to SUCCEEDED, over the SUCCEEDED tasks (null when there are none). */
  meanSecondsToComplete: number | null;
  p95SecondsToComplete: number | null;
}

/** The problems of a usage range, each naming its argument. */
export function usageRangeIssues(from: Date, to: Date): FieldIssue[] {
  if (!(from.getTime() < to.getTime())) return [{ path: ['to'], message: 'must be after from' }];
  if (to.getTime() - from.getTime() > MAX_USAGE_SPAN_DAYS * 86_400_000)
    return [{ path: ['to'], message: `must be at most ${MAX_USAGE_SPAN_DAYS} days after from` }];
  return [];
}

const DIMENSION_SQL: Record<UsageDimension, { column: string; expr: SQL }> = {
  DAY: { column: 'day', expr: sql`to_char(${tasks.createdAt} at time zone 'UTC', 'YYYY-MM-DD')` },
  PROVIDER: { column: 'provider', expr: sql`${tasks.provider}` },
  KIND: { column: 'kind', expr: sql`${tasks.kind}` },
};

/** Per task: seconds of its generated media, and how many of its outputs have no duration. */
const MEDIA = sql`case when ${tasks.kind} = 'VIDEO_SOUND'
  then (select coalesce(sum(coalesce((a->>'mp3DurationSeconds')::float8, (a->>'wavDurationSeconds')::float8)), 0)
    from jsonb_array_elements(${tasks.output}->'audios') a)
  else (select coalesce(sum((v->>'durationSeconds')::float8), 0) from jsonb_array_elements(${tasks.output}->'videos') v) end`;
const UNTIMED = sql`case when ${tasks.kind} = 'VIDEO_SOUND'
  then (select count(*) from jsonb_array_elements(${tasks.output}->'audios') a
    where a->>'mp3DurationSeconds' is null and a->>'wavDurationSeconds' is null)
  else (select count(*) from jsonb_array_elements(${tasks.output}->'videos') v where v->>'durationSeconds' is null) end`;

/**
 * The tenant's tasks created in [from, to), grouped by `groupBy` (UTC days): one aggregate query in the
 * database (the tenant's created_at index bounds it), percentiles by percentile_cont.
 */
export async function usage(
  db: DbOrTx,
  tenantId: string,
  range: { from: Date; to: Date; groupBy: readonly UsageDimension[] },
): Promise<UsageRow[]> {
  const dims = USAGE_DIMENSIONS.filter((d) => range.groupBy.includes(d)).map((d) => DIMENSION_SQL[d]);
  const keys = dims.map((d) => sql`${d.expr} as ${sql.identifier(d.column)}`);
  const seconds = sql`extract(epoch from t.completed_at - t.created_at)::float8`;
  const inner = sql`select ${sql.join([...keys, sql`${tasks.status} as status`, sql`${tasks.createdAt} as created_at`, sql`${tasks.completedAt} as completed_at`, sql`${reportedCost} as reported`, sql`${estimatedCost} as estimated`, sql`(${MEDIA}) as media`, sql`(${UNTIMED}) as untimed`], sql`, `)}
    from ${tasks}
    where ${tasks.tenantId} = ${tenantId} and ${tasks.createdAt} >= ${range.from.toISOString()}::timestamptz
      and ${tasks.createdAt} < ${range.to.toISOString()}::timestamptz`;
  const groupCols = dims.map((d) => sql.identifier(d.column));
  const query = sql`select ${sql.join(
    [
      ...groupCols,
      sql`count(*)::int as tasks`,
      sql`(count(*) filter (where t.status = 'SUCCEEDED'))::int as succeeded`,
      sql`(count(*) filter (where t.status = 'FAILED'))::int as failed`,
      sql`(count(*) filter (where t.status = 'CANCELED'))::int as canceled`,
      sql`(count(*) filter (where t.status in ('PENDING', 'SUBMITTED', 'PROCESSING')))::int as running`,
      sql`coalesce(sum(t.reported), 0)::float8 as cost_reported`,
      sql`coalesce(sum(t.estimated), 0)::float8 as cost_estimated`,
      sql`coalesce(sum(t.media), 0)::float8 as media_seconds`,
      sql`coalesce(sum(t.untimed), 0)::int as untimed`,
      sql`(avg(${seconds}) filter (where t.status = 'SUCCEEDED'))::float8 as mean_seconds`,
      sql`(percentile_cont(0.95) within group (order by ${seconds}) filter (where t.status = 'SUCCEEDED'))::float8 as p95_seconds`,
    ],
    sql`, `,
  )} from (${inner}) t${groupCols.length ? sql` group by ${sql.join(groupCols, sql`, `)} order by ${sql.join(groupCols, sql`, `)}` : sql``}`;
  const rows = rowsOf<Record<string, unknown>>(await db.execute(query));
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    day: (r.day as string | undefined) ?? null,
    provider: (r.provider as Provider | undefined) ?? null,
    kind: (r.kind as TaskKind | undefined) ?? null,
    tasks: Number(r.tasks),
    succeeded: Number(r.succeeded),
    failed: Number(r.failed),
    canceled: Number(r.canceled),
    running: Number(r.running),
    costReported: Number(r.cost_reported),
    costEstimated: Number(r.cost_estimated),
    mediaSeconds: Number(r.media_seconds),
    outputsWithoutDuration: Number(r.untimed),
    meanSecondsToComplete: num(r.mean_seconds),
    p95SecondsToComplete: num(r.p95_seconds),
  }));
}
