import { PROVIDERS, TASK_KINDS, type Provider, type TaskKind } from '@clipwire/schema';
import { tasks } from '@clipwire/schema/tables';
import { sql } from 'drizzle-orm';
import { z } from 'zod';

/**
 * What a task costs, in its provider's own units: Kling's `final_unit_deduction`, KIE's credits (when
 * recordInfo carries them), and for the reseller, which reports nothing, whatever unit its price table
 * entry is in. The price table
 * (COST_ESTIMATES) gives each provider and kind an estimate per task: it is reserved against the
 * tenant's monthly budget at create and stands for the cost wherever the provider reports none.
 */
export type CostEstimates = Record<Provider, Partial<Record<TaskKind, number>>>;

/** The sandbox simulator's prices (Kling avatar 5, video-to-audio 1; KIE 24 credits, its 720p price; one unit a reseller task). */
export const DEFAULT_COST_ESTIMATES: CostEstimates = {
  KLING: { AVATAR_VIDEO: 5, VIDEO_SOUND: 1 },
  KIE: { AVATAR_VIDEO: 24 },
  DIGITAL_HUMAN: { AVATAR_VIDEO: 1 },
};

const perKind = z.partialRecord(z.enum(TASK_KINDS), z.number().min(0).max(1e9));
const costEstimatesSchema = z.partialRecord(z.enum(PROVIDERS), perKind);

/** COST_ESTIMATES: JSON such as `{"KIE":{"AVATAR_VIDEO":12}}`, merged over the defaults; a problem or null. */
export function parseCostEstimates(json: string | undefined): CostEstimates | string {
  if (json === undefined) return DEFAULT_COST_ESTIMATES;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return 'must be JSON such as {"KIE":{"AVATAR_VIDEO":12}}';
  }
  const parsed = costEstimatesSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`;
  }
  const merged = structuredClone(DEFAULT_COST_ESTIMATES);
  for (const provider of PROVIDERS) Object.assign(merged[provider], parsed.data[provider] ?? {});
  return merged;
}

/** A create's estimate (0 where the table has no entry for its provider and kind). */
export function estimateCost(estimates: CostEstimates, provider: Provider, kind: TaskKind): number {
  return estimates[provider][kind] ?? 0;
}

const REPORTED_UNITS = sql`(${tasks.cost}->>'units')`;
const IS_REPORTED = sql`${REPORTED_UNITS} ~ '^[0-9]+(\\.[0-9]+)?$'`;

/** The cost the provider reported for the task (null when it reported none). */
export const reportedCost = sql`(case when ${IS_REPORTED} then ${REPORTED_UNITS}::numeric end)`;

/**
 * The estimate standing for the cost of a task whose provider reported none, where it may be charged:
 * while it runs (the reservation) and once it SUCCEEDED, or CANCELED after it was sent (no provider can
 * cancel, so it may have run); a task that FAILED, or was canceled before it was sent, is not charged.
 */
export const estimatedCost = sql`(case when ${IS_REPORTED} then null
  when ${tasks.status} in ('PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED')
    or (${tasks.status} = 'CANCELED' and ${tasks.submitAttempts} > 0)
  then coalesce(${tasks.costEstimate}, 0) end)`;

/** What a task counts against a budget: its reported cost, else its estimate (see estimatedCost), else 0. */
export const chargedCost = sql`coalesce(${reportedCost}, ${estimatedCost}, 0)`;
