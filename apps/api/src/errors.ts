import type { TaskRow } from '@clipwire/schema/tables';
/**
 * Expected failures of the API. Each is a GraphQL object type (see graphql/types/errors.ts) listed
 * on the fields that can produce it, so clients get typed errors, never "Unexpected error".
 */
export interface FieldIssue {
  path: string[];
  message: string;
}

export class ValidationError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

/** Another task of the tenant has this externalTaskId, created from another input (`existing`). */
export class DuplicateExternalTaskIdError extends Error {
  constructor(
    readonly externalTaskId: string,
    readonly existing: TaskRow | null,
  ) {
    super(
      `a task with externalTaskId "${externalTaskId}" already exists${existing ? ` (task ${existing.id})` : ''}, created from another input`,
    );
    this.name = 'DuplicateExternalTaskIdError';
  }
}

/** Turns zod issues into field issues whose path starts at the argument the client sent. */
export function issuesFromZod(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: string[] = [],
): FieldIssue[] {
  return issues.map((i) => ({ path: [...prefix, ...i.path.map(String)], message: i.message }));
}

export class ProviderUnavailableError extends Error {
  constructor(
    readonly provider: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderUnavailableError';
  }
}

/** The provider refused this account's work just now (quota, arrears, permission): a new task would fail too. */
export class ProviderRejectedError extends Error {
  constructor(
    readonly provider: string,
    readonly providerCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderRejectedError';
  }
}

/** Which of a tenant's limits a create would exceed. */
export type QuotaLimit = 'TASKS_IN_FLIGHT' | 'TASKS_PER_DAY' | 'MONTHLY_COST' | 'MONTHLY_COST_PROVIDER';

/**
 * A create would exceed one of the tenant's limits (tasks/quota.ts): nothing was stored or sent.
 * `used` is what counts against `max` now; `requested` what the create would add.
 */
export class QuotaExceededError extends Error {
  constructor(
    readonly limit: QuotaLimit,
    readonly max: number,
    readonly used: number,
    readonly requested: number,
    /** When the count starts again (the next UTC day or month); null for tasks in flight. */
    readonly resetsAt: Date | null,
    /** The provider of a MONTHLY_COST_PROVIDER budget. */
    readonly provider: string | null = null,
  ) {
    super(
      `quota exceeded: ${limit}${provider ? ` (${provider})` : ''} allows ${max}, ${used} used, this task needs ${requested}${resetsAt ? `; resets at ${resetsAt.toISOString()}` : ''}`,
    );
    this.name = 'QuotaExceededError';
  }
}
