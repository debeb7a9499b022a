import { customType, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.js';

const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  // postgres.js gives a Buffer, PGlite a Uint8Array: both become a Buffer.
  fromDriver: (value) => Buffer.from(value),
});

/**
 * Media a client sent inline (base64) or uploaded. Kept so that a task can be submitted later (the
 * job may run in another process) and served at a signed, expiring /media URL to providers that
 * only take URLs.
 */
export const mediaObjects = pgTable(
  'media_objects',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    sha256: text('sha256').notNull(),
    mime: text('mime').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    bytes: bytea('bytes').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('media_objects_tenant_idx').on(t.tenantId, t.createdAt)],
);

export type MediaObjectRow = typeof mediaObjects.$inferSelect;
