import { parseArgs } from 'node:util';
import { tenants } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { createApiKey, createTenant, listApiKeys, revokeApiKey } from './auth/api-keys.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/client.js';

const USAGE = `usage:
  pnpm clipwire keys create --tenant NAME [--name LABEL] [--admin]   create a key (and the tenant if new); prints the key once
  pnpm clipwire keys list [--tenant NAME]                             list keys (never the keys themselves)
  pnpm clipwire keys revoke ID                                        revoke a key

Uses the same database settings as the server (DATABASE_URL, or the PGlite data dir in CLIPWIRE_DATA_DIR).
With embedded PGlite, stop the server first (one process per data dir), or use the admin GraphQL mutations.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      admin: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const [group, command, id] = positionals;
  if (values.help || group !== 'keys' || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const config = loadConfig();
  const handle = await openDatabase(config.database);
  try {
    const db = handle.db;
    switch (command) {
      case 'create': {
        if (!values.tenant) throw new UsageError('--tenant is required');
        const [existing] = await db.select().from(tenants).where(eq(tenants.name, values.tenant));
        const tenantId = existing?.id ?? (await createTenant(db, values.tenant));
        const key = await createApiKey(db, tenantId, values.name ?? 'cli', values.admin ? 'admin' : 'tenant');
        process.stdout.write(
          `tenant ${values.tenant}${existing ? '' : ' (created)'}\nkey id ${key.id}\n\n  ${key.key}\n\nShown once: Clipwire keeps only its SHA-256.\n`,
        );
        return 0;
      }
      case 'list': {
        let tenantId: string | null = null;
        if (values.tenant) {
          const [tenant] = await db.select().from(tenants).where(eq(tenants.name, values.tenant));
          if (!tenant) throw new UsageError(`no tenant named ${values.tenant}`);
          tenantId = tenant.id;
        }
        const keys = await listApiKeys(db, tenantId);
        const rows = keys.map((k) => [
          k.id,
          k.tenant,
          `${k.prefix}…`,
          k.scope,
          k.name,
          k.createdAt.toISOString().slice(0, 19).replace('T', ' '),
          k.lastUsedAt ? k.lastUsedAt.toISOString().slice(0, 19).replace('T', ' ') : 'never',
          k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active',
        ]);
        process.stdout.write(
          table(['ID', 'TENANT', 'PREFIX', 'SCOPE', 'NAME', 'CREATED (UTC)', 'LAST USED (UTC)', 'STATE'], rows),
        );
        if (keys.length === 0) process.stdout.write('(no keys)\n');
        return 0;
      }
      case 'revoke': {
        if (!id) throw new UsageError('the key id is required');
        const row = /^[0-9a-f-]{36}$/i.test(id) ? await revokeApiKey(db, id, null) : null;
        if (!row) throw new UsageError(`no active key with id ${id}`);
        process.stdout.write(`revoked ${row.id} (${row.prefix}…)\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command keys ${command}`);
    }
  } finally {
    await handle.close();
  }
}

class UsageError extends Error {}

/** Columns padded to their widest cell, under a header row. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map(
      (r) =>
        `${r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
