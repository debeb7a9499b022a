import { z } from 'zod';

export const EXTERNAL_TASK_ID_MAX_LENGTH = 128;

export const externalTaskIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(EXTERNAL_TASK_ID_MAX_LENGTH, `must be at most ${EXTERNAL_TASK_ID_MAX_LENGTH} characters`)
  .regex(/^[A-Za-z0-9._:-]+$/, 'may contain only letters, digits and . _ : -');

export const webhookUrlSchema = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .url('must be an absolute URL')
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL');

/** Outcomes a sandboxed provider can be asked for (refused by the API when the provider is LIVE). */
export const SANDBOX_OUTCOMES = ['FAIL', 'SLOW', 'LOST_CALLBACK'] as const;
export type SandboxOutcome = (typeof SANDBOX_OUTCOMES)[number];

/** `sandbox: { outcome }`: ask the sandbox simulator for a failure, a slow task or a lost callback. */
export const sandboxOptionsSchema = z.object({ outcome: z.enum(SANDBOX_OUTCOMES) });

/** Where checks report: a zod refinement's context, or a plain list (see `avatarInputIssues`). */
export interface IssueSink {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

/** Adds an issue at `path` unless exactly one of `values` is present. */
export function exactlyOne(ctx: IssueSink, values: Record<string, unknown>, path: (string | number)[]): void {
  const present = Object.entries(values).filter(([, v]) => v !== undefined && v !== null);
  if (present.length !== 1) {
    const names = Object.keys(values);
    const list = `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
    ctx.addIssue({
      code: 'custom',
      path,
      message:
        present.length === 0
          ? `give one of ${list}`
          : `give only one of ${list}, not ${present.map(([k]) => k).join(' and ')}`,
    });
  }
}

/** Adds an issue for each key in `values` that is present: the field does not apply here. */
export function notFor(ctx: IssueSink, provider: string, values: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(values)) {
    if (v !== undefined && v !== null)
      ctx.addIssue({ code: 'custom', path: [key], message: `does not apply to ${provider}` });
  }
}
