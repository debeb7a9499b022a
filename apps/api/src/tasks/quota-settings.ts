import { PROVIDERS } from '@clipwire/schema';
import { tenantLimits, type TenantLimitsRow } from '@clipwire/schema/tables';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.js';
import { issuesFromZod, ValidationError } from '../errors.js';

const MAX_COUNT = 1_000_000;
const MAX_BUDGET = 1e12;
const count = z.number().int().min(0).max(MAX_COUNT, `must be at most ${MAX_COUNT}`).nullish();
const budget = z.number().min(0).max(MAX_BUDGET, `must be at most ${MAX_BUDGET}`);

/** setTenantLimits' input: every limit at once (null or absent: no limit). */
export const tenantLimitsInputSchema = z.object({
  maxInFlight: count,
  maxTasksPerDay: count,
  monthlyBudget: budget.nullish(),
  providerBudgets: z
    .array(z.object({ provider: z.enum(PROVIDERS), monthlyBudget: budget }))
    .nullish()
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list?.forEach((entry, i) => {
        if (seen.has(entry.provider))
          ctx.addIssue({ code: 'custom', path: [i, 'provider'], message: `${entry.provider} is given twice` });
        seen.add(entry.provider);
      });
    }),
});

export type TenantLimitsInput = z.input<typeof tenantLimitsInputSchema>;

/** Replaces a tenant's limits; a ValidationError (paths under `input`) changes nothing. */
export async function setTenantLimits(
  db: DbOrTx,
  tenantId: string,
  input: TenantLimitsInput,
): Promise<TenantLimitsRow> {
  const parsed = tenantLimitsInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error.issues, ['input']));
  const limits = parsed.data;
  const values = {
    maxInFlight: limits.maxInFlight ?? null,
    maxTasksPerDay: limits.maxTasksPerDay ?? null,
    monthlyBudget: limits.monthlyBudget == null ? null : String(limits.monthlyBudget),
    monthlyBudgetByProvider: Object.fromEntries(
      (limits.providerBudgets ?? []).map((b) => [b.provider, b.monthlyBudget]),
    ),
  };
  const [row] = await db
    .insert(tenantLimits)
    .values({ tenantId, ...values })
    .onConflictDoUpdate({ target: tenantLimits.tenantId, set: { ...values, updatedAt: sql`now()` } })
    .returning();
  return row!;
}
