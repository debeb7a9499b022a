import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Secrets that every process of one deployment must share (e.g. the key that signs /media URLs),
 * generated once at first boot unless the environment provides them.
 */
export const serverSecrets = pgTable('server_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
