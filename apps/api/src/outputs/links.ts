import { timingSafeEqual } from 'node:crypto';
import { UUID_PATTERN } from '@clipwire/schema';

/** `/outputs/{tenantId}/{taskId}/{name}`: the path of an archived output is its storage key. */
export const OUTPUT_PATH = new RegExp(
  `^/(outputs/${UUID_PATTERN}/${UUID_PATTERN}/[a-z0-9-]{1,64}(\\.[a-z0-9]{1,5})?)$`,
);

/**
 * Clipwire's links to archived outputs: `{PUBLIC_BASE_URL}/outputs/{key…}?sig=…`, an HMAC of the key
 * with the media signing key. They do not expire: an output is served while it is kept, and its link
 * answers 410 Gone once the retention policy (or deleteTask) removed it.
 */
export class OutputLinks {
  constructor(
    private readonly mac: (value: string) => string,
    private readonly baseUrl: () => string,
  ) {}

  url(key: string): string {
    return `${this.baseUrl()}/${key}?sig=${this.sign(key)}`;
  }

  /** The storage key a request path names, when its signature is right; null otherwise. */
  keyOf(path: string, sig: string | null): string | null {
    const key = OUTPUT_PATH.exec(path)?.[1];
    if (!key || !sig) return null;
    const expected = Buffer.from(this.sign(key));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected) ? key : null;
  }

  private sign(key: string): string {
    return this.mac(`archived-output:${key}`);
  }
}
