import { GraphQLError } from 'graphql';
import { AUTH_FAILURE_MESSAGES, type ApiKeyAuthenticator, type AuthFailure, type Principal } from './api-keys.js';
import type { KeyRateLimiter } from './rate-limit.js';

/** A principal, or the refusal to send. */
export type Admission = { principal: Principal } | { refusal: GraphQLError };
/** Who is calling (from an Authorization value), and whether they may now. */
export type Admit = (authorization: unknown) => Promise<Admission>;

/** Admission over HTTP: the API key, then its rate limit. */
export function createAdmission(authenticator: ApiKeyAuthenticator, rateLimiter: KeyRateLimiter): Admit {
  return async (authorization) => {
    const outcome = await authenticator.authenticate(authorization);
    if ('failure' in outcome) return { refusal: unauthenticated(outcome.failure) };
    const waitMs = await rateLimiter.take(outcome.apiKeyId);
    if (waitMs !== null) {
      return {
        refusal: new GraphQLError('too many requests for this API key', {
          extensions: {
            code: 'RATE_LIMITED',
            http: { status: 429, headers: { 'retry-after': String(Math.ceil(waitMs / 1000)) } },
          },
        }),
      };
    }
    return { principal: outcome };
  };
}

/** Refused credentials: 401 with the expected form, in GraphQL's error shape. */
function unauthenticated(failure: AuthFailure): GraphQLError {
  return new GraphQLError(AUTH_FAILURE_MESSAGES[failure], {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } },
  });
}
