import type { Provider, TaskKind } from '@clipwire/schema';
import { tenantRoutes, type TenantRouteRow } from '@clipwire/schema/tables';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { ValidationError } from '../errors.js';
import { PROVIDER_SLICES } from '../providers/registry.js';

/** Whether a provider offers a kind of task at all (whatever this deployment configured). */
function offers(provider: Provider, kind: TaskKind): boolean {
  const slice = PROVIDER_SLICES[provider];
  return kind === 'AVATAR_VIDEO' ? slice.avatarVideo !== undefined : slice.videoSound !== undefined;
}

/** Every default route of a tenant, by kind. */
export function listDefaultRoutes(db: DbOrTx, tenantId: string): Promise<TenantRouteRow[]> {
  return db.select().from(tenantRoutes).where(eq(tenantRoutes.tenantId, tenantId)).orderBy(asc(tenantRoutes.kind));
}

/**
 * Sets (or with an empty route, clears) a tenant's default route for `kind`: each provider named once,
 * each offering the kind. A ValidationError (path `route`) changes nothing.
 */
export async function setDefaultRoute(
  db: DbOrTx,
  tenantId: string,
  kind: TaskKind,
  route: readonly Provider[],
): Promise<Provider[] | undefined> {
  if (new Set(route).size !== route.length) {
    throw new ValidationError([{ path: ['route'], message: 'must not name a provider twice' }]);
  }
  const unfit = route.filter((p) => !offers(p, kind));
  if (unfit.length > 0) {
    throw new ValidationError([{ path: ['route'], message: `${unfit.join(', ')} does not offer ${kind}` }]);
  }
  if (route.length === 0) {
    await db.delete(tenantRoutes).where(and(eq(tenantRoutes.tenantId, tenantId), eq(tenantRoutes.kind, kind)));
    return undefined;
  }
  const [row] = await db
    .insert(tenantRoutes)
    .values({ tenantId, kind, route: [...route] })
    .onConflictDoUpdate({
      target: [tenantRoutes.tenantId, tenantRoutes.kind],
      set: { route: [...route], updatedAt: sql`now()` },
    })
    .returning();
  return row!.route;
}
