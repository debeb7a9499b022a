import { apiKeys } from '@clipwire/schema/tables';
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import type { Logger } from '../logger.js';

/**
 * When each API key was last used, kept to within a minute without a write per request: a use only
 * notes the time in memory; a key whose last write (by this process, or as read with the key) is
 * less than `everyMs` old is not written again; the others are written together, one UPDATE for all,
 * `batchMs` after the first of them, off every request's path. `stop` writes what is left.
 */
export class KeyLastUsed {
  /** Per key: when its last-used time was last written (or found, when the key was read). */
  private readonly written = new Map<string, number>();
  /** Per key: the latest use not yet written. */
  private readonly pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: DbOrTx,
    private readonly log: Logger,
    private readonly everyMs = 60_000,
    private readonly batchMs = 1000,
  ) {}

  /** What the database holds for a key, as read with it: a recent time there saves a write here. */
  known(keyId: string, lastUsedAt: Date | null): void {
    if (lastUsedAt && lastUsedAt.getTime() > (this.written.get(keyId) ?? 0))
      this.written.set(keyId, lastUsedAt.getTime());
  }

  /** A use of a key, now. */
  note(keyId: string): void {
    const now = Date.now();
    if (this.pending.has(keyId)) {
      this.pending.set(keyId, now);
      return;
    }
    if (now - (this.written.get(keyId) ?? 0) < this.everyMs) return;
    if (this.written.size > 100_000) this.written.clear();
    this.written.set(keyId, now);
    this.pending.set(keyId, now);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.batchMs).unref();
  }

  /** Writes the pending uses now, in one statement (a later time never moves back). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const uses = [...this.pending];
      this.pending.clear();
      const rows = sql.join(
        uses.map(([id, at]) => sql`(${id}::uuid, ${new Date(at).toISOString()}::timestamptz)`),
        sql`, `,
      );
      try {
        await this.db.execute(
          sql`update ${apiKeys} set last_used_at = u.at from (values ${rows}) as u(id, at)
            where ${apiKeys.id} = u.id and (${apiKeys.lastUsedAt} is null or ${apiKeys.lastUsedAt} < u.at)`,
        );
      } catch (error) {
        // Not worth failing anything for: the next use a minute on writes it again.
        for (const [id] of uses) this.written.delete(id);
        this.log.warn({ err: error, keys: uses.length }, 'recording API keys’ last use failed');
      }
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
