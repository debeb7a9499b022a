import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Requests per API key (HTTP operations and WebSocket subscribes alike), in this process: a
 * sustained rate with a burst allowance, from rate-limiter-flexible.
 */
export class KeyRateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(perSecond: number, burst: number) {
    this.limiter = new RateLimiterMemory({ points: burst, duration: Math.max(1, Math.round(burst / perSecond)) });
  }

  /** null when allowed; otherwise the ms to wait. */
  async take(apiKeyId: string): Promise<number | null> {
    try {
      await this.limiter.consume(apiKeyId, 1);
      return null;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
      throw rejection;
    }
  }
}
