/** Provider-independent task status. Each provider's zod schema maps its own values onto these. */
export const UNIFIED_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'UNKNOWN'] as const;
export type UnifiedStatus = (typeof UNIFIED_STATUSES)[number];

/**
 * SUCCEEDED and FAILED are final. UNKNOWN (an upstream value we do not recognise) is NOT terminal:
 * keep polling and log it, never crash on it.
 */
export function isTerminal(status: UnifiedStatus): boolean {
  return status === 'SUCCEEDED' || status === 'FAILED';
}

/**
 * Order for "status never moves backwards": a stored status should only be replaced by one of a
 * higher rank (ties broken by the provider's updated_at). UNKNOWN ranks lowest so it never
 * overwrites a known status.
 */
export function statusRank(status: UnifiedStatus): number {
  switch (status) {
    case 'UNKNOWN':
      return 0;
    case 'QUEUED':
      return 1;
    case 'RUNNING':
      return 2;
    case 'SUCCEEDED':
    case 'FAILED':
      return 3;
  }
}
