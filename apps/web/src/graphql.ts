import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/**
 * Typed GraphQL documents, checked against the committed schema (apps/api/schema.graphql).
 * `graphql-env.d.ts` is generated from it by `pnpm --filter @clipwire/web generate`.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  disableMasking: true;
  scalars: {
    DateTime: string;
    JSON: unknown;
    File: File;
  };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
