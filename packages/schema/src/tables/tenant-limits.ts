import { integer, jsonb, numeric, pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { Provider } from '../domain.js';
import { tenants } from './tenants.js';

/**
 * A tenant's limits, set by an admin key; no row (or a null column) means no limit. The row is also
 * the tenant's admission lock: a create of a tenant that has one locks it (SELECT … FOR UPDATE) in its
 * own transaction, counts, and inserts, so two creates of one tenant never both take the last unit,
 * while other tenants' creates lock their own rows (or none) and never wait on it.
 */
export const tenantLimits = pgTable('tenant_limits', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  /** Tasks PENDING, SUBMITTED or PROCESSING at once. */
  maxInFlight: integer('max_in_flight'),
  /** Tasks created per UTC day. */
  maxTasksPerDay: integer('max_tasks_per_day'),
  /** Cost units per UTC calendar month, all providers together (the sum of their units). */
  monthlyBudget: numeric('monthly_budget'),
  /** Cost units per UTC calendar month of one provider, in that provider's units. */
  monthlyBudgetByProvider: jsonb('monthly_budget_by_provider')
    .$type<Partial<Record<Provider, number>>>()
    .notNull()
    .default({}),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type TenantLimitsRow = typeof tenantLimits.$inferSelect;
