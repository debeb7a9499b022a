import { PROVIDERS, type Provider, type TaskKind } from '@clipwire/schema';
import { tasks, tenantLimits, type TenantLimitsRow } from '@clipwire/schema/tables';
import { and, eq, gte, inArray, or, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/client.js';
import { run } from '../db/prepared.js';
import { QuotaExceededError } from '../errors.js';
import { chargedCost, type CostEstimates, estimatedCost, estimateCost, reportedCost } from './cost.js';
import { findTask } from './repository.js';

/** The start of the current UTC day and month, by the database's clock (the one created_at is set by). */
const DAY_START = sql`(date_trunc('day', now() at time zone 'UTC') at time zone 'UTC')`;
const MONTH_START = sql`(date_trunc('month', now() at time zone 'UTC') at time zone 'UTC')`;
const IN_FLIGHT = ['PENDING', 'SUBMITTED', 'PROCESSING'] as const;

export interface MonthCost {
  /** What counts against the budget: reported costs, and estimates where none was reported. */
  used: number;
  reported: number;
  estimated: number;
}

/** What counts against a tenant's limits now. */
export interface QuotaUsage {
  inFlight: number;
  tasksToday: number;
  month: Record<Provider, MonthCost>;
  monthTotal: MonthCost;
  dayResetsAt: Date;
  monthResetsAt: Date;
}

export async function readLimits(db: DbOrTx, tenantId: string): Promise<TenantLimitsRow | null> {
  const [row] = await db.select().from(tenantLimits).where(eq(tenantLimits.tenantId, tenantId));
  return row ?? null;
}

/** What counts against the tenant's limits; the month's cost only when `withMonth` (a scan of the month's tasks). */
export async function quotaUsage(db: DbOrTx, tenantId: string, withMonth = true): Promise<QuotaUsage> {
  const [counts] = await run(
    db,
    'quota-counts',
    (db) =>
      db
        .select({
          inFlight: sql`count(*) filter (where ${inArray(tasks.status, [...IN_FLIGHT])})`.mapWith(Number),
          tasksToday: sql`count(*) filter (where ${tasks.createdAt} >= ${DAY_START})`.mapWith(Number),
          dayStartMs: sql`extract(epoch from ${DAY_START}) * 1000`.mapWith(Number),
          nextMonthMs: sql`extract(epoch from ${MONTH_START} + interval '1 month') * 1000`.mapWith(Number),
        })
        .from(tasks)
        .where(
          and(
            eq(tasks.tenantId, sql.placeholder('tenantId')),
            or(inArray(tasks.status, [...IN_FLIGHT]), gte(tasks.createdAt, DAY_START)),
          ),
        ),
    { tenantId },
  );
  const byProvider = !withMonth
    ? []
    : await run(
        db,
        'quota-month-cost',
        (db) =>
          db
            .select({
              provider: tasks.provider,
              used: sql`coalesce(sum(${chargedCost}), 0)`.mapWith(Number),
              reported: sql`coalesce(sum(${reportedCost}), 0)`.mapWith(Number),
              estimated: sql`coalesce(sum(${estimatedCost}), 0)`.mapWith(Number),
            })
            .from(tasks)
            .where(and(eq(tasks.tenantId, sql.placeholder('tenantId')), gte(tasks.createdAt, MONTH_START)))
            .groupBy(tasks.provider),
        { tenantId },
      );
  const zero = (): MonthCost => ({ used: 0, reported: 0, estimated: 0 });
  const month = Object.fromEntries(PROVIDERS.map((p) => [p, zero()])) as Record<Provider, MonthCost>;
  const monthTotal = zero();
  for (const row of byProvider) {
    month[row.provider] = { used: row.used, reported: row.reported, estimated: row.estimated };
    monthTotal.used += row.used;
    monthTotal.reported += row.reported;
    monthTotal.estimated += row.estimated;
  }
  const dayStartMs = counts?.dayStartMs ?? Date.now();
  return {
    inFlight: counts?.inFlight ?? 0,
    tasksToday: counts?.tasksToday ?? 0,
    month,
    monthTotal,
    dayResetsAt: new Date(dayStartMs + 86_400_000),
    monthResetsAt: new Date(counts?.nextMonthMs ?? Date.now()),
  };
}

/** What a create asks of the quota. */
export interface QuotaDemand {
  tenantId: string;
  provider: Provider;
  kind: TaskKind;
  externalTaskId: string | null;
}

/**
 * In the create's transaction, before anything is stored: locks the tenant's limits row (FOR UPDATE:
 * creates of this tenant wait for each other here, and count what the previous one committed; other
 * tenants lock their own rows, or none), counts and throws QuotaExceededError when the task would
 * exceed a limit. Returns the task's estimated cost, which the insert stores (the reservation).
 */
export async function admitQuota(tx: Tx, demand: QuotaDemand, estimates: CostEstimates): Promise<number> {
  const estimate = estimateCost(estimates, demand.provider, demand.kind);
  const [limits] = await run(
    tx,
    'quota-lock',
    (db) =>
      db
        .select()
        .from(tenantLimits)
        .where(eq(tenantLimits.tenantId, sql.placeholder('tenantId')))
        .for('update'),
    { tenantId: demand.tenantId },
  );
  if (!limits) return estimate;
  const budgets = limits.monthlyBudget !== null || limits.monthlyBudgetByProvider[demand.provider] !== undefined;
  const refusal = exceeded(limits, await quotaUsage(tx, demand.tenantId, budgets), demand.provider, estimate);
  if (!refusal) return estimate;
  // A client retrying a create that was accepted gets its task back, not a refusal: the insert
  // meets the existing externalTaskId and the create answers that task (see TaskService.create).
  if (
    demand.externalTaskId !== null &&
    (await findTask(tx, demand.tenantId, { externalTaskId: demand.externalTaskId }))
  )
    return estimate;
  throw refusal;
}

/** The first limit a task of `provider` costing `estimate` would exceed, if any. */
function exceeded(
  limits: TenantLimitsRow,
  usage: QuotaUsage,
  provider: Provider,
  estimate: number,
): QuotaExceededError | null {
  if (limits.maxInFlight !== null && usage.inFlight + 1 > limits.maxInFlight)
    return new QuotaExceededError('TASKS_IN_FLIGHT', limits.maxInFlight, usage.inFlight, 1, null);
  if (limits.maxTasksPerDay !== null && usage.tasksToday + 1 > limits.maxTasksPerDay)
    return new QuotaExceededError('TASKS_PER_DAY', limits.maxTasksPerDay, usage.tasksToday, 1, usage.dayResetsAt);
  const providerBudget = limits.monthlyBudgetByProvider[provider];
  if (providerBudget !== undefined && overBudget(providerBudget, usage.month[provider].used, estimate)) {
    const used = usage.month[provider].used;
    return new QuotaExceededError(
      'MONTHLY_COST_PROVIDER',
      providerBudget,
      used,
      estimate,
      usage.monthResetsAt,
      provider,
    );
  }
  const total = limits.monthlyBudget === null ? null : Number(limits.monthlyBudget);
  if (total !== null && overBudget(total, usage.monthTotal.used, estimate))
    return new QuotaExceededError('MONTHLY_COST', total, usage.monthTotal.used, estimate, usage.monthResetsAt);
  return null;
}

/** A budget is exceeded when the task would take it past its maximum, or when it is spent (even a free task). */
function overBudget(max: number, used: number, estimate: number): boolean {
  return used >= max || used + estimate > max;
}
