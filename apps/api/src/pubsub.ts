import { createPubSub } from 'graphql-yoga';

/** Only ids and versions travel through pub/sub; subscribers re-read the row they are allowed to see. */
export interface TaskUpdatedMessage {
  taskId: string;
  version: number;
}

/** A new event in a tenant's feed: a signal to read the feed from its cursor, not the event itself. */
export interface TenantEventMessage {
  eventId: number;
}

export type ClipwirePubSub = ReturnType<typeof createClipwirePubSub>;

export function createClipwirePubSub() {
  return createPubSub<{
    'task:updated': [taskId: string, payload: TaskUpdatedMessage];
    'tenant:events': [tenantId: string, payload: TenantEventMessage];
  }>();
}
