import type { Principal } from '../auth/api-keys.js';
import type { DbOrTx } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { AdapterRegistry } from '../providers/registry.js';
import type { ClipwirePubSub } from '../pubsub.js';
import type { ProviderHealth } from '../providers/health.js';
import type { TenantFeeds } from '../tasks/feed.js';
import type { IntakeEnv } from '../tasks/intake.js';
import type { WebhookService } from '../webhooks/service.js';
import type { TaskService } from '../tasks/service.js';

/** The same context over HTTP and WebSocket: the principal is resolved before it is built. */
export interface GraphQLContext {
  /** In query operations on Postgres: a transaction under row-level security for the caller's tenant. */
  db: DbOrTx;
  /** Runs reads as the caller's tenant (row-level security on Postgres): for subscriptions' reads. */
  asTenant<T>(fn: (db: DbOrTx) => Promise<T>): Promise<T>;
  principal: Principal;
  pubsub: ClipwirePubSub;
  feeds: TenantFeeds;
  tasks: TaskService;
  adapters: AdapterRegistry;
  health: ProviderHealth;
  webhooks: WebhookService;
  /** For the create mutations; the tenant's default webhook URL is added per request. */
  intake: IntakeEnv;
  log: Logger;
  /** Makes this process read the caller's tenant's keys again: what they carry (default routes) changed. */
  forgetTenantKeys(): void;
  /** A signed, expiring link (absolute URL) to a stored input's bytes at /media/{id}. */
  mediaLink(id: string, ttlSeconds: number): string;
}
