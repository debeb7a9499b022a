import { sql } from 'drizzle-orm';
import { customType, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenants.js';

const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  // postgres.js gives a Buffer, PGlite a Uint8Array: both become a Buffer.
  fromDriver: (value) => Buffer.from(value),
});

/**
 * Media a client sent inline (base64) or uploaded: the metadata of the object that holds its bytes in
 * the object store (files under the data dir, or S3), so that a task can be submitted later (the job
 * may run in another process) and served at a signed, expiring /media URL to providers that only take
 * URLs. Rows from before the object store kept their bytes here (`bytes`); they are moved into the
 * store on upgrade (`storage_key` set, `bytes` cleared).
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
    /** Legacy: the bytes of a row written before the object store, until it is moved there. */
    bytes: bytea('bytes'),
    /** The object's key in the store (`inputs/{tenantId}/{id}`); null for a legacy row not yet moved. */
    storageKey: text('storage_key'),
    /** The task the media is an input of (null for legacy rows of tasks already submitted). */
    taskId: uuid('task_id'),
    /** When the bytes were deleted (retention, or the task's erasure): the row stays, /media answers 410. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('media_objects_tenant_idx').on(t.tenantId, t.createdAt),
    index('media_objects_task_idx').on(t.taskId),
    index('media_objects_kept_idx').on(t.createdAt).where(sql`${t.deletedAt} is null`),
    index('media_objects_legacy_idx').on(t.id).where(sql`${t.bytes} is not null`),
  ],
);

export type MediaObjectRow = typeof mediaObjects.$inferSelect;
