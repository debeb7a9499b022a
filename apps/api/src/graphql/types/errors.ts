import {
  DuplicateExternalTaskIdError,
  ProviderRejectedError,
  ProviderUnavailableError,
  QuotaExceededError,
  ValidationError,
  type FieldIssue,
} from '../../errors.js';
import { builder } from '../builder.js';
import { ProviderEnum } from './enums.js';
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

const QuotaLimitEnum = builder.enumType('QuotaLimit', {
  description: 'A limit of a tenant (set by an admin with setTenantLimits).',
  values: {
    TASKS_IN_FLIGHT: { description: 'Tasks PENDING, SUBMITTED or PROCESSING at once.' },
    TASKS_PER_DAY: { description: 'Tasks created per UTC day (00:00–24:00 UTC).' },
    MONTHLY_COST: { description: 'Cost units per UTC calendar month, all providers together.' },
    MONTHLY_COST_PROVIDER: { description: 'Cost units per UTC calendar month of one provider, in its units.' },
  } as const,
});

builder.objectType(QuotaExceededError, {
  name: 'QuotaExceeded',
  description: 'The task would exceed one of your limits. Nothing was created and nothing was sent to the provider.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    limit: t.field({ type: QuotaLimitEnum, resolve: (e) => e.limit }),
    provider: t.field({
      type: ProviderEnum,
      nullable: true,
      description: 'The provider whose budget it is (MONTHLY_COST_PROVIDER).',
      resolve: (e) => e.provider as never,
    }),
    max: t.exposeFloat('max', { description: 'The limit: a number of tasks, or cost units.' }),
    used: t.exposeFloat('used', {
      description: 'What counts against it now (cost: reported costs, and the estimates of tasks with none).',
    }),
    requested: t.exposeFloat('requested', {
      description: 'What this task would add: 1 task, or its estimated cost units (COST_ESTIMATES).',
    }),
    resetsAt: t.expose('resetsAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When the count starts again: the next 00:00 UTC, or the first of the next month 00:00 UTC; null for tasks in flight, which free as tasks end.',
    }),
  }),
});

/** The errors of a field whose only expected failure is its input: ValidationError. */
export const INPUT_ERRORS = { types: [ValidationError] };

/** A ValidationError of one argument: its message names the argument. */
export function invalidArgument(arg: string, message: string): ValidationError {
  return new ValidationError([{ path: [arg], message }]);
}
