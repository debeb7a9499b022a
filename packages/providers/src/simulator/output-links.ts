import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SimRequest } from './server.js';

/**
 * The links to a task's output files. Real providers delete outputs (Kling after 30 days, KIE after
 * 14): with a lifetime set (`outputTtlSeconds`, SIMULATOR_OUTPUT_TTL_S in the API) each link carries
 * its expiry, signed with a key of this simulator instance, and answers 410 Gone once it has passed
 * (403 when the signature is missing or wrong, so the expiry cannot be dropped). Without one, links
 * are the plain sample paths and never expire.
 */
export class OutputLinks {
  private readonly key = randomBytes(32);

  constructor(private readonly ttlMs: number | undefined) {}

  /** The URL of `path` (e.g. `/media/kling/avatar-sample.mp4`) for a task that finished at `issuedAtMs`. */
  link(base: string, path: string, issuedAtMs: number): string {
    if (this.ttlMs === undefined) return `${base}${path}`;
    const expires = Math.floor(issuedAtMs + this.ttlMs);
    return `${base}${path}?expires=${expires}&signature=${this.sign(path, expires)}`;
  }

  /** Why a request for an output file is refused, or null to serve it. */
  refusal(req: SimRequest, now = Date.now()): { status: 403 | 410; message: string } | null {
    if (this.ttlMs === undefined) return null;
    const expires = req.url.searchParams.get('expires') ?? '';
    const signature = Buffer.from(req.url.searchParams.get('signature') ?? '');
    const expected = /^\d{1,15}$/.test(expires) ? Buffer.from(this.sign(req.url.pathname, Number(expires))) : null;
    if (!expected || expected.length !== signature.length || !timingSafeEqual(expected, signature))
      return { status: 403, message: 'invalid or unsigned output link' };
    if (Number(expires) <= now)
      return { status: 410, message: 'this output has expired and was deleted by the provider (simulated)' };
    return null;
  }

  private sign(path: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${path}\n${expires}`).digest('base64url');
  }
}
