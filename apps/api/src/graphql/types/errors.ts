import {
  DuplicateExternalTaskIdError,
  ProviderRejectedError,
  ProviderUnavailableError,
  ValidationError,
  type FieldIssue,
} from '../../errors.js';
import { builder } from '../builder.js';
import { TaskRef } from './task.js';

/*
 * Expected failures as GraphQL values, through @pothos/plugin-errors: a mutation that can fail lists
 * the error classes it answers (`errors: { types }`), and its result is the union of its object type
 * and those errors' types (`<Field>Result`, see builder.ts). Any other error stays a (masked) error;
 * malformed arguments of queries and subscriptions (cursors, exactly-one-of) are BAD_USER_INPUT errors.
 */

export const ErrorInterface = builder.interfaceType(Error, {
  name: 'Error',
  fields: (t) => ({ message: t.exposeString('message') }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One problem with the input: the path of the field and what is wrong with it.',
  fields: (t) => ({
    path: t.exposeStringList('path'),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input breaks a documented limit. Nothing was created and nothing was sent to the provider.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => e.issues }) }),
});

builder.objectType(DuplicateExternalTaskIdError, {
  name: 'DuplicateExternalTaskId',
  description:
    'Another task of yours already has this externalTaskId, created from another input (the same input again answers that task).',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    externalTaskId: t.exposeString('externalTaskId'),
    task: t.field({ type: TaskRef, nullable: true, description: 'The task that has it.', resolve: (e) => e.existing }),
  }),
});

builder.objectType(ProviderUnavailableError, {
  name: 'ProviderUnavailable',
  description: 'The provider cannot take tasks now (not configured). Nothing was created.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ provider: t.exposeString('provider') }),
});

builder.objectType(ProviderRejectedError, {
  name: 'ProviderRejected',
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

/** The errors of a field whose only expected failure is its input: ValidationError. */
export const INPUT_ERRORS = { types: [ValidationError] };

/** A ValidationError of one argument: its message names the argument. */
export function invalidArgument(arg: string, message: string): ValidationError {
  return new ValidationError([{ path: [arg], message }]);
}
