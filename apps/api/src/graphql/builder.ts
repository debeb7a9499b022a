import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { authScopes, unauthorizedError, type AuthScopes } from './auth.js';
import type { GraphQLContext } from './context.js';
import TextInputsPlugin from './text-inputs.js';

/** Plugins and scalars only; every type lives in its own file under types/. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: AuthScopes;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    File: { Input: Blob; Output: never };
  };
  DefaultInputFieldRequiredness: false;
}>({
  // Scope checks first: a refused caller's arguments are not even looked at.
  // Then errors: what the resolver and the text checks throw of a field's error types becomes its result.
  plugins: [ScopeAuthPlugin, ErrorsPlugin, RelayPlugin, DataloaderPlugin, TextInputsPlugin],
  scopeAuth: { authScopes, unauthorizedError, authorizeOnSubscribe: true },
  // A field with `errors` answers `<Field>Result`: its own type (not wrapped in a Success object) or an error.
  errors: {
    directResult: true,
    defaultUnionOptions: { name: ({ fieldName }) => `${fieldName[0]!.toUpperCase()}${fieldName.slice(1)}Result` },
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: {},
    nodesQueryOptions: false,
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);

// Every root field needs a tenant's key; fields that need more say so (authScopes: { admin: true }).
builder.queryType({ authScopes: { tenant: true } });
builder.mutationType({ authScopes: { tenant: true } });
builder.subscriptionType({ authScopes: { tenant: true } });
