import type { Provider, TaskKind } from '@clipwire/schema';
import { apiKeys, tenantRoutes, tenants } from '@clipwire/schema/tables';
import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { generateSecret, sha256Hex } from '../crypto.js';
import type { DbOrTx } from '../db/client.js';
import type { KeyLastUsed } from './last-used.js';

/** Recognizable in logs and secret scanners; 32 random bytes (256 bits) follow. */
export const API_KEY_PREFIX = 'cw_sk_';

export interface Principal {
  tenantId: string;
  apiKeyId: string;
  scope: 'tenant' | 'admin';
  /**
   * The tenant's default routes per kind of task (setDefaultRoute), read with the key: a create that
   * names no provider costs no statement of its own to find them.
   */
  defaultRoutes?: Partial<Record<TaskKind, Provider[]>>;
}

export interface CreatedApiKey {
  id: string;
  tenantId: string;
  /** The only time the key exists in clear: it is never stored. */
  key: string;
  prefix: string;
}

export async function createApiKey(
  db: DbOrTx,
  tenantId: string,
  name: string,
  scope: 'tenant' | 'admin' = 'tenant',
): Promise<CreatedApiKey> {
  const key = API_KEY_PREFIX + generateSecret(32);
  const prefix = keyPrefix(key)!;
  const [row] = await db
    .insert(apiKeys)
    .values({ tenantId, name, scope, prefix, keyHash: sha256Hex(key) })
    .returning({ id: apiKeys.id });
  if (!row) throw new Error('api key insert returned no row');
  return { id: row.id, tenantId, key, prefix };
}

export async function createTenant(db: DbOrTx, name: string): Promise<string> {
  const [row] = await db.insert(tenants).values({ name }).returning({ id: tenants.id });
  if (!row) throw new Error('tenant insert returned no row');
  return row.id;
}

/** The one accepted form of credentials, quoted in every refusal. */
export const EXPECTED_AUTHORIZATION = `Authorization: Bearer ${API_KEY_PREFIX}…`;

/** Why credentials were refused: said to the client, without revealing whether a key exists. */
export type AuthFailure = 'missing' | 'malformed' | 'invalid';

export const AUTH_FAILURE_MESSAGES: Record<AuthFailure, string> = {
  missing: `missing API key: send ${EXPECTED_AUTHORIZATION}`,
  malformed: `malformed credentials: send ${EXPECTED_AUTHORIZATION}`,
  invalid: 'invalid or revoked API key',
};

/** Exactly `Bearer <key>` (the scheme is case-insensitive, as HTTP's are); anything else is malformed. */
export function parseAuthorization(value: unknown): { key: string } | { failure: 'missing' | 'malformed' } {
  if (value === undefined || value === null || value === '') return { failure: 'missing' };
  if (typeof value !== 'string') return { failure: 'malformed' };
  const key = /^Bearer ([A-Za-z0-9_-]{1,128})$/i.exec(value)?.[1];
  if (!key?.startsWith(API_KEY_PREFIX)) return { failure: 'malformed' };
  return { key };
}

/**
 * Resolves an Authorization value to its tenant. Lookups are by hash, so the comparison never
 * touches the key itself; a short cache keeps hot keys off the database while a revocation
 * still takes effect within CACHE_MS.
 */
export class ApiKeyAuthenticator {
  private static readonly CACHE_MS = 2000;
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();

  constructor(
    private readonly db: DbOrTx,
    /** Told of every accepted key (its last-used time, written at most once a minute). */
    private readonly lastUsed?: KeyLastUsed,
  ) {}

  /** Forgets the cached keys of a tenant (its default routes changed): their next use reads them again. */
  forgetTenant(tenantId: string): void {
    for (const [hash, entry] of this.cache) if (entry.principal?.tenantId === tenantId) this.cache.delete(hash);
  }

  async authenticate(authorization: unknown): Promise<Principal | { failure: AuthFailure }> {
    const parsed = parseAuthorization(authorization);
    if ('failure' in parsed) return parsed;
    const principal = await this.lookup(parsed.key);
    if (!principal) return { failure: 'invalid' };
    this.lastUsed?.note(principal.apiKeyId);
    return principal;
  }

  private async lookup(key: string): Promise<Principal | null> {
    const hash = sha256Hex(key);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expires > now) return cached.principal;
    const [row] = await this.db
      .select({
        id: apiKeys.id,
        tenantId: apiKeys.tenantId,
        scope: apiKeys.scope,
        lastUsedAt: apiKeys.lastUsedAt,
        // json (not jsonb) arrives as text from every driver: parsed here.
        defaultRoutes:
          sql<string>`(select coalesce(json_object_agg(${tenantRoutes.kind}, ${tenantRoutes.route}), '{}'::json)::text from ${tenantRoutes} where ${tenantRoutes.tenantId} = ${apiKeys.tenantId})`.mapWith(
            (text: string) => JSON.parse(text) as Partial<Record<TaskKind, Provider[]>>,
          ),
      })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
      .limit(1);
    if (row) this.lastUsed?.known(row.id, row.lastUsedAt);
    const principal = row
      ? { tenantId: row.tenantId, apiKeyId: row.id, scope: row.scope, defaultRoutes: row.defaultRoutes }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, expires: now + ApiKeyAuthenticator.CACHE_MS });
    return principal;
  }
}

/** Which of these keys are revoked now (uncached: for closing their open sockets). */
export async function revokedKeyIds(db: DbOrTx, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(inArray(apiKeys.id, ids), isNotNull(apiKeys.revokedAt)));
  return new Set(rows.map((r) => r.id));
}

/** Revokes a key; `tenantId` limits it to that tenant's keys (null: any, for admins and the CLI). */
export async function revokeApiKey(db: DbOrTx, keyId: string, tenantId: string | null) {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt), ...(tenantId ? [eq(apiKeys.tenantId, tenantId)] : [])))
    .returning();
  return row ?? null;
}

export async function listApiKeys(db: DbOrTx, tenantId: string | null) {
  const query = db
    .select({
      id: apiKeys.id,
      tenantId: apiKeys.tenantId,
      tenant: tenants.name,
      name: apiKeys.name,
      scope: apiKeys.scope,
      prefix: apiKeys.prefix,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId));
  return (tenantId ? query.where(eq(apiKeys.tenantId, tenantId)) : query).orderBy(tenants.name, apiKeys.createdAt);
}

/** The shown part of a key (`cw_sk_` and 6 characters, as `keys list` and `apiKeys` show it); null when it is no key. */
export function keyPrefix(key: string): string | null {
  return key.startsWith(API_KEY_PREFIX) && key.length > API_KEY_PREFIX.length + 6
    ? key.slice(0, API_KEY_PREFIX.length + 6)
    : null;
}
