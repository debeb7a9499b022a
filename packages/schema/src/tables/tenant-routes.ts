import { jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { Provider, TaskKind } from '../domain.js';
import { tenants } from './tenants.js';

/**
 * A tenant's default route per kind of task (`setDefaultRoute`): the providers a create that names
 * neither `provider` nor `route` is tried on, in order.
 */
export const tenantRoutes = pgTable(
  'tenant_routes',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<TaskKind>().notNull(),
    route: jsonb('route').$type<Provider[]>().notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.kind] })],
);

export type TenantRouteRow = typeof tenantRoutes.$inferSelect;
