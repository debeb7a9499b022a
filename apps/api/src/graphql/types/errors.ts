import type { FieldIssue } from '../../errors.js';
import { builder } from '../builder.js';

/**
 * Expected failures as GraphQL values. They are plain objects tagged with __typename, not Error
 * instances: graphql-js treats a returned Error as a thrown one.
 */
export type ErrorResult =
  | { __typename: 'ValidationError'; message: string; issues: FieldIssue[] }
  | { __typename: 'DuplicateExternalTaskId'; message: string; externalTaskId: string }
  | { __typename: 'ProviderUnavailable'; message: string; provider: string }
  | { __typename: 'ProviderRejected'; message: string; provider: string; providerCode: string };

type Of<N extends ErrorResult['__typename']> = Extract<ErrorResult, { __typename: N }>;

export const ErrorInterface = builder.interfaceRef<ErrorResult>('Error').implement({
  fields: (t) => ({ message: t.exposeString('message') }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One problem with the input: the path of the field and what is wrong with it.',
  fields: (t) => ({
    path: t.exposeStringList('path'),
    message: t.exposeString('message'),
  }),
});

export const ValidationErrorType = builder.objectRef<Of<'ValidationError'>>('ValidationError').implement({
  description: 'The input breaks a documented limit. Nothing was created and nothing was sent to the provider.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => e.issues }) }),
});

export const DuplicateExternalTaskIdType = builder
  .objectRef<Of<'DuplicateExternalTaskId'>>('DuplicateExternalTaskId')
  .implement({
    description: 'Another task of yours already has this externalTaskId: find it with task(externalTaskId:).',
    interfaces: [ErrorInterface],
    fields: (t) => ({ externalTaskId: t.exposeString('externalTaskId') }),
  });

export const ProviderUnavailableType = builder.objectRef<Of<'ProviderUnavailable'>>('ProviderUnavailable').implement({
  description: 'The provider cannot take tasks now (not configured). Nothing was created.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ provider: t.exposeString('provider') }),
});

export const ProviderRejectedType = builder.objectRef<Of<'ProviderRejected'>>('ProviderRejected').implement({
  description:
    'The provider refused this account’s last task for a reason that applies to every task (quota, arrears, permission), within the last minute. Nothing was created.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    provider: t.exposeString('provider'),
    providerCode: t.exposeString('providerCode', {
      description: 'The provider’s business code, e.g. Kling 1102, KIE 402.',
    }),
  }),
});
