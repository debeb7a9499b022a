import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.js';
import type { Upload } from './uploads.js';

/**
 * Typed GraphQL documents, checked against the committed schema (apps/api/schema.graphql).
 * `graphql-env.d.ts` is generated from it by `pnpm --filter @clipwire/client generate`.
 * A `File` variable takes anything `Upload` names (Blob, File, Buffer, Uint8Array, a stream).
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  disableMasking: true;
  scalars: {
    DateTime: string;
    JSON: unknown;
    File: Upload;
  };
}>();

export type { FragmentOf, ResultOf, TadaDocumentNode, VariablesOf } from 'gql.tada';
