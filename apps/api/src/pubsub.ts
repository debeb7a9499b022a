import { createPubSub } from 'graphql-yoga';

/** Only ids and versions travel through pub/sub; subscribers re-read the row they are allowed to see. */
export interface TaskUpdatedMessage {
  taskId: string;
  version: number;
}

export type ClipwirePubSub = ReturnType<typeof createClipwirePubSub>;

export function createClipwirePubSub() {
  return createPubSub<{ 'task:updated': [taskId: string, payload: TaskUpdatedMessage] }>();
}
