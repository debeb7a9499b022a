import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tenants } from '@clipwire/schema/tables';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { createApiKey, createTenant } from './api-keys.js';

export const SANDBOX_TENANT = 'sandbox';
export const SANDBOX_KEY_FILE = 'sandbox-api-key';

/**
 * On the very first start of a sandbox install (no tenant at all), create the `sandbox` tenant and
 * its key, print the key once and leave it in the data dir for the console. Returns the key, or
 * null when there was nothing to do.
 */
export async function bootstrapSandboxTenant(db: Database, dataDir: string, log: Logger): Promise<string | null> {
  const created = await db.transaction(async (tx) => {
    // Serialize concurrent first starts on a shared Postgres: only one of them creates the tenant.
    await tx.execute(sql`select pg_advisory_xact_lock(7243001)`);
    const [existing] = await tx.select({ id: tenants.id }).from(tenants).limit(1);
    if (existing) return null;
    const tenantId = await createTenant(tx, SANDBOX_TENANT);
    return createApiKey(tx, tenantId, 'sandbox bootstrap key');
  });
  if (!created) return null;
  if (!dataDir.startsWith('memory://')) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, SANDBOX_KEY_FILE), `${created.key}\n`, { mode: 0o600 });
  }
  // Printed once, on purpose, outside the structured log so that it is never shipped to a log store.
  const where = dataDir.startsWith('memory://') ? '' : `; also in ${join(dataDir, SANDBOX_KEY_FILE)}`;
  process.stdout.write(`\n  Sandbox API key (shown once${where}):\n\n    ${created.key}\n\n`);
  log.info({ tenant: SANDBOX_TENANT, keyPrefix: created.prefix }, 'created the sandbox tenant and its API key');
  return created.key;
}
