/**
 * Typed GraphQL documents: the console writes its own with @clipwire/client's `graphql` (typed from the
 * committed apps/api/schema.graphql; its introspection is generated into packages/client by
 * `pnpm --filter @clipwire/web generate` or `pnpm --filter @clipwire/client generate`).
 */
export { graphql } from '@clipwire/client';
export type { FragmentOf, ResultOf, VariablesOf } from '@clipwire/client';
