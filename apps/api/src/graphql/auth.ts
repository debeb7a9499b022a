import type { AuthFailure, ForbiddenResult } from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import type { GraphQLContext } from './context.js';

/**
 * Who may run what (@pothos/plugin-scope-auth). Every operation runs as an API key's principal (the
 * context is only built for one: requests without a valid key are refused before, 401 or 4403), so
 * `tenant` holds for every caller and guards the root types; `admin` is the key scope that may also
 * act on other tenants.
 */
export interface AuthScopes {
  tenant: boolean;
  admin: boolean;
}

export function authScopes(ctx: GraphQLContext): AuthScopes {
  return { tenant: ctx.principal?.tenantId != null, admin: ctx.principal?.scope === 'admin' };
}

const REFUSALS: Record<keyof AuthScopes, { message: string; code: string }> = {
  tenant: { message: 'not authenticated', code: 'UNAUTHENTICATED' },
  admin: { message: 'an admin API key is required', code: 'FORBIDDEN' },
};

/** The scope a failed check was missing (a scope map fails as "any of" its scopes). */
function missingScope(failure: AuthFailure): keyof AuthScopes | undefined {
  if (failure.kind === 'AuthScope') return failure.scope in REFUSALS ? (failure.scope as keyof AuthScopes) : undefined;
  if (failure.kind === 'AnyAuthScopes' || failure.kind === 'AllAuthScopes') {
    return failure.failures.map(missingScope).find((scope) => scope !== undefined);
  }
  return undefined;
}

/** The refusal of the scope that failed: the messages and codes the API answered before the plugin. */
export function unauthorizedError(_parent: unknown, _ctx: unknown, _info: unknown, result: ForbiddenResult): Error {
  const scope = missingScope(result.failure);
  const { message, code } = scope ? REFUSALS[scope] : { message: result.message, code: 'FORBIDDEN' };
  return new GraphQLError(message, { extensions: { code } });
}

/** Whose keys a caller sees and may revoke: its own tenant's, or (an admin key) every tenant's (null). */
export function keysTenant(ctx: GraphQLContext): string | null {
  return ctx.principal.scope === 'admin' ? null : ctx.principal.tenantId;
}
