import { SignJWT } from 'jose';

export type KlingAuth = { apiKey: string } | { accessKey: string; secretKey: string };

export const KLING_JWT_TTL_SECONDS = 1800;
/** Re-mint this long before exp, so a token never expires in flight. */
const KLING_JWT_REFRESH_MARGIN_SECONDS = 300;

/** The AK/SK token Kling documents: HS256, iss = AccessKey, exp = now + 1800, nbf = now − 5. */
export async function signKlingJwt(opts: {
  accessKey: string;
  secretKey: string;
  nowSeconds: number;
  ttlSeconds?: number;
}): Promise<{ token: string; exp: number }> {
  const exp = opts.nowSeconds + (opts.ttlSeconds ?? KLING_JWT_TTL_SECONDS);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(opts.accessKey)
    .setExpirationTime(exp)
    .setNotBefore(opts.nowSeconds - 5)
    .sign(new TextEncoder().encode(opts.secretKey));
  return { token, exp };
}

/** Produces the bearer token: the static key, or a cached JWT re-minted ~5 min before expiry. */
export class KlingTokenSource {
  private cached: { token: string; exp: number } | undefined;
  private pending: Promise<string> | undefined;
  private minted = 0;

  constructor(
    private readonly auth: KlingAuth,
    private readonly now: () => number,
  ) {}

  /** True when a fresh token can be made (AK/SK); a static key cannot be refreshed. */
  get refreshable(): boolean {
    return !('apiKey' in this.auth);
  }

  /** How many JWTs have been signed so far (diagnostics). */
  get mintedCount(): number {
    return this.minted;
  }

  async token(): Promise<string> {
    const auth = this.auth;
    if ('apiKey' in auth) return auth.apiKey;
    const nowSeconds = Math.floor(this.now() / 1000);
    if (this.cached && nowSeconds < this.cached.exp - KLING_JWT_REFRESH_MARGIN_SECONDS) return this.cached.token;
    // Concurrent callers share one signing.
    this.pending ??= signKlingJwt({ accessKey: auth.accessKey, secretKey: auth.secretKey, nowSeconds })
      .then((t) => {
        this.minted += 1;
        this.cached = t;
        return t.token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Drop the cached JWT so the next token() signs a new one. */
  invalidate(): void {
    this.cached = undefined;
  }
}
