import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';

/** Only ids and versions travel through pub/sub; subscribers re-read the row they are allowed to see. */
export interface TaskUpdatedMessage {
  taskId: string;
  version: number;
}

/** A new event in a tenant's feed: a signal to read the feed from its cursor, not the event itself. */
export interface TenantEventMessage {
  eventId: number;
}

type Channels = {
  'task:updated': [taskId: string, payload: TaskUpdatedMessage];
  'tenant:events': [tenantId: string, payload: TenantEventMessage];
};

export type ClipwirePubSub = ReturnType<typeof createPubSub<Channels>>;

export interface PubSubHandle {
  pubsub: ClipwirePubSub;
  /** Redis reachable (always true in process). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * In process by default; with REDIS_URL, through Redis (two connections: one publishes, one
 * subscribes), so a change made by any process reaches the subscribers of every process.
 */
export function createClipwirePubSub(redisUrl?: string): PubSubHandle {
  if (!redisUrl) return { pubsub: createPubSub<Channels>(), ping: async () => true, close: async () => {} };
  const options = { maxRetriesPerRequest: null, lazyConnect: false } as const;
  const publishClient = new Redis(redisUrl, options);
  const subscribeClient = new Redis(redisUrl, options);
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  return {
    pubsub: createPubSub<Channels>({ eventTarget }),
    async ping() {
      try {
        return (await publishClient.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  };
}
