/** What every integrity walker returns, and the helpers they share. */

export interface Integrity {
  intact: boolean;
  /** Why the file is not intact, when it is not: a short phrase naming the format. */
  corruption?: string;
}

export const OK: Integrity = { intact: true };
export const bad = (corruption: string): Integrity => ({ intact: false, corruption });

/** A four-character box or chunk type as it can be printed in a reason, else 'unnamed'. */
export function printable(type: string): string {
  return /^[\x20-\x7e]{4}$/.test(type) ? type : 'unnamed';
}
