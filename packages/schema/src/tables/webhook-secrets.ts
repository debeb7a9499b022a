import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.js';

/**
 * Standard Webhooks signing secrets (`whsec_…`), one current per tenant. On rotation the old one
 * keeps signing (a second signature in the header) until it expires, so receivers can switch
 * without losing a delivery. Kept as-is: a signing key must be usable, not just checkable.
 */
export const webhookSecrets = pgTable(
  'webhook_secrets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    secret: text('secret').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Null while current; set when a newer secret replaces it. */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [index('webhook_secrets_tenant_idx').on(t.tenantId, t.createdAt)],
);

export type WebhookSecretRow = typeof webhookSecrets.$inferSelect;
