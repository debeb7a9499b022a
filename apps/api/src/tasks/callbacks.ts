import { isTerminalStatus } from '@clipwire/schema';
import { crashPoint } from '../crash.js';
import { sha256Hex } from '../crypto.js';
import type { Database } from '../db/client.js';
import type { JobQueue } from '../jobs/queue.js';
import { providerForSlug, type AdapterRegistry } from '../providers/registry.js';
import type { CallbackReading } from '../providers/types.js';
import { adapterFor, type TaskChanges } from './changes.js';
import type { RecentRows } from './recent-rows.js';
import { findTaskByCallbackTokenHash } from './repository.js';

export type CallbackOutcome = { status: 200 | 400 | 404; message: string };

export const MAX_CALLBACK_BYTES = 64 * 1024;

export interface CallbackDeps {
  db: Database;
  adapters: AdapterRegistry;
  jobs: JobQueue;
  changes: TaskChanges;
  recent: RecentRows;
}

/**
 * A provider callback. The URL token identifies the task. A callback whose whole body is
 * authenticated (a configured signing secret) is applied at once, in one transaction with its
 * event; any other is only a notification: it is acknowledged and a job reads the provider's API.
 */
export async function handleCallback(
  deps: CallbackDeps,
  slug: string,
  token: string,
  rawBody: string,
  headers: Record<string, string | string[] | undefined>,
): Promise<CallbackOutcome> {
  const provider = providerForSlug(slug);
  if (!provider || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) return { status: 404, message: 'unknown callback' };
  const hash = sha256Hex(token);
  // The row this process last wrote, when it has it (the process that submitted a task usually does):
  // a status only moves forward, so an older row than the database's only makes a replay cost a statement.
  const task = deps.recent.byToken(hash) ?? (await findTaskByCallbackTokenHash(deps.db, hash));
  if (!task || task.provider !== provider) return { status: 404, message: 'unknown callback' };
  const adapter = adapterFor(deps.adapters, task);
  if (!adapter.readCallback) return { status: 404, message: 'unknown callback' };
  let reading: CallbackReading;
  try {
    reading = adapter.readCallback(task, rawBody, headers);
  } catch {
    return { status: 400, message: 'malformed callback body' };
  }
  if (!reading.about) return { status: 400, message: 'callback is not about this task' };
  if (isTerminalStatus(task.status)) return { status: 200, message: 'already final' };
  // A PENDING task's create has not been answered yet. That the provider accepted it is what the
  // answer itself will say (and, should it never come, the next attempt looks the task up); any later
  // news is read by the refresh job, which waits for the answer.
  if (task.status === 'PENDING' && reading.report?.status === 'QUEUED') return { status: 200, message: 'nothing new' };
  if (reading.report && reading.report.status !== 'UNKNOWN' && task.status !== 'PENDING') {
    const applied = await deps.changes.applyReport(task, reading.report, 'CALLBACK');
    return { status: 200, message: applied ? 'applied' : 'nothing new' };
  }
  await deps.jobs.enqueue(deps.db, {
    queue: 'refresh',
    payload: { taskId: task.id, source: 'CALLBACK' },
    dedupeKey: `refresh:${task.id}`,
  });
  deps.jobs.nudge(['refresh']);
  crashPoint('callback:after-ack-queued');
  return { status: 200, message: 'accepted' };
}
