import { ProviderError } from '@clipwire/providers';
import type { Provider } from '@clipwire/schema';
import CircuitBreaker from 'opossum';

export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** Failures that say the provider is unhealthy. Refusals (validation, quota, limits) say nothing of its health. */
const UNHEALTHY = new Set(['network', 'timeout', 'upstream', 'protocol']);

export class CircuitOpenError extends Error {
  constructor(readonly provider: Provider) {
    super(`${provider} is failing: its circuit breaker is open`);
    this.name = 'CircuitOpenError';
  }
}

/**
 * One circuit breaker per provider (opossum): it opens when at least half of the last calls in a
 * rolling window (10 s, at least 10 calls) failed for health reasons, refuses calls while open, and lets one trial call
 * through after `resetTimeoutMs`.
 */
export class ProviderHealth {
  private readonly breakers = new Map<Provider, CircuitBreaker<[() => Promise<unknown>], unknown>>();

  constructor(
    // At least 10 calls in the rolling 10 s window before it may open: a short burst of retried
    // 5xx among a few lookups is a hiccup, not an outage.
    private readonly opts: { resetTimeoutMs: number; volumeThreshold: number; errorThresholdPercentage: number } = {
      resetTimeoutMs: 30_000,
      volumeThreshold: 10,
      errorThresholdPercentage: 50,
    },
    private readonly observe: (provider: Provider, outcome: string, seconds: number) => void = () => {},
    /** Told when a provider's circuit opens, half-opens or closes (the operator's log). */
    private readonly onState: (provider: Provider, state: CircuitState) => void = () => {},
  ) {}

  async call<T>(provider: Provider, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = (await this.breaker(provider).fire(fn)) as T;
      this.observe(provider, 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER') throw new CircuitOpenError(provider);
      this.observe(
        provider,
        error instanceof ProviderError ? error.kind : 'error',
        (performance.now() - started) / 1000,
      );
      throw error;
    }
  }

  state(provider: Provider): CircuitState {
    const b = this.breakers.get(provider);
    if (!b) return 'CLOSED';
    return b.opened ? 'OPEN' : b.halfOpen ? 'HALF_OPEN' : 'CLOSED';
  }

  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
  }

  private breaker(provider: Provider) {
    let b = this.breakers.get(provider);
    if (!b) {
      b = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
        timeout: false,
        resetTimeout: this.opts.resetTimeoutMs,
        volumeThreshold: this.opts.volumeThreshold,
        errorThresholdPercentage: this.opts.errorThresholdPercentage,
        // true = not a failure of the provider's health
        errorFilter: (error: unknown) => !(error instanceof ProviderError && UNHEALTHY.has(error.kind)),
      });
      b.on('open', () => this.onState(provider, 'OPEN'));
      b.on('halfOpen', () => this.onState(provider, 'HALF_OPEN'));
      b.on('close', () => this.onState(provider, 'CLOSED'));
      this.breakers.set(provider, b);
    }
    return b;
  }
}
