/*
 * Outcomes on demand, for the sandbox simulator only. A create sent with the header below makes the
 * simulated provider answer that way; the header is sent by Clipwire only to providers in SANDBOX mode
 * (a real provider would ignore an unknown header anyway). What each outcome does per provider is in
 * the README ("Sandbox outcomes").
 */

export const SANDBOX_OUTCOMES = ['FAIL', 'SLOW', 'LOST_CALLBACK'] as const;
export type SandboxOutcome = (typeof SANDBOX_OUTCOMES)[number];

/** The request header a create carries its sandbox outcome in. */
export const SANDBOX_OUTCOME_HEADER = 'x-sandbox-outcome';

/** How many times longer than usual a SLOW task takes to finish. */
export const SANDBOX_SLOW_FACTOR = 5;

/** Options of a create call beside the provider's own request. */
export interface CreateOptions {
  /** Sandbox only: the outcome the simulator is asked for. */
  sandboxOutcome?: SandboxOutcome | undefined;
}

/** The headers that carry `opts` (none for a plain create). */
export function createHeaders(opts: CreateOptions | undefined): Record<string, string> {
  return opts?.sandboxOutcome ? { [SANDBOX_OUTCOME_HEADER]: opts.sandboxOutcome } : {};
}

/** The outcome a simulated create asks for, from its headers; null for none (an unknown value is refused by the caller). */
export function sandboxOutcomeOf(
  headers: Record<string, string | string[] | undefined>,
): SandboxOutcome | null | 'invalid' {
  const raw = headers[SANDBOX_OUTCOME_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return null;
  return (SANDBOX_OUTCOMES as readonly string[]).includes(value) ? (value as SandboxOutcome) : 'invalid';
}
