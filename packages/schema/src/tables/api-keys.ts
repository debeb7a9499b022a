import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.js';

/** API keys are stored as the SHA-256 of the key; the key itself is shown once and never kept. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** 'tenant': the tenant's own tasks and keys. 'admin': also creates tenants and their keys. */
    scope: text('scope').$type<'tenant' | 'admin'>().notNull().default('tenant'),
    /** The first characters of the key, so an operator can tell keys apart. */
    prefix: text('prefix').notNull(),
    /** Hex SHA-256 of the whole key. */
    keyHash: text('key_hash').notNull().unique(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** When the key was last used, to within a minute (written at most once a minute per key, in batches). */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (t) => [index('api_keys_tenant_idx').on(t.tenantId)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
