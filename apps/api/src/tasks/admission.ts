import type { Provider } from '@clipwire/schema';
import { tasks, type TaskRow } from '@clipwire/schema/tables';
import { and, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import type { Database, DbOrTx, Tx } from '../db/client.js';
import { driverValues, fieldPlaceholders, run } from '../db/prepared.js';
import type { JobOutcome } from '../jobs/queue.js';
import type { TaskAdapter } from '../providers/types.js';
import type { EngineSettings } from './engine-settings.js';
import type { TaskPatch } from './transitions.js';

const RATE_WINDOW_MARGIN_MS = 250;

/** When a submitted task is first polled: after the callback grace period, or soon when no callbacks come. */
export function firstPoll(engine: EngineSettings, adapter: TaskAdapter): TaskPatch {
  const delay = adapter.callbacks ? engine.callbackGraceMs : engine.noCallbackPollMs;
  return { nextPollAt: new Date(Date.now() + delay), pollDelayMs: delay };
}

/**
 * Inside the caller's transaction: takes a slot under the provider's limits and marks the attempt
 * (its callback token's hash, the first poll). Where the provider has a limit, concurrent workers in
 * any process are serialized by an advisory lock so that they never exceed it together; where it has
 * none, no lock is taken and nothing is counted. Returns the task as marked.
 */
export async function admit(
  tx: Tx,
  engine: EngineSettings,
  task: TaskRow,
  adapter: TaskAdapter,
  tokenHash: string,
): Promise<TaskRow | 'busy' | 'gone'> {
  const slots = engine.concurrency[task.provider];
  const window = engine.rate[task.provider];
  if (slots !== undefined || window !== undefined) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`clipwire:submit:${task.provider}`}))`);
    if (slots !== undefined && (await countInFlight(tx, task.provider)) >= slots) return 'busy';
    // A little margin: our window starts before the request reaches the provider.
    const since = new Date(Date.now() - (window?.windowMs ?? 0) - RATE_WINDOW_MARGIN_MS);
    if (window && (await countSubmitsSince(tx, task.provider, since)) >= window.creates) return 'busy';
  }
  // The first poll is planned here, before anything is sent, so that a task moved on by a
  // callback before our own update still gets polled if later callbacks are lost.
  const poll = firstPoll(engine, adapter);
  const marks = {
    callbackTokenHash: tokenHash,
    nextPollAt: poll.nextPollAt ?? null,
    pollDelayMs: poll.pollDelayMs ?? null,
  };
  const [marked] = await run(
    tx,
    'task-admit',
    (tx) =>
      tx
        .update(tasks)
        .set({
          ...fieldPlaceholders(Object.keys(marks)),
          submitAttempts: sql`${tasks.submitAttempts} + 1`,
          submitStartedAt: sql`now()`,
        })
        .where(and(eq(tasks.id, sql.placeholder('taskId')), eq(tasks.status, 'PENDING'), isNull(tasks.submitStartedAt)))
        .returning(),
    { taskId: task.id, ...driverValues(tasks, marks) },
  );
  return marked ?? 'gone';
}

/** The attempt got a definite answer (or never left): nothing of it is upstream. */
export async function clearAttempt(db: Database, taskId: string, refund = false): Promise<void> {
  await db
    .update(tasks)
    .set({
      submitStartedAt: null,
      ...(refund ? { submitAttempts: sql`greatest(${tasks.submitAttempts} - 1, 0)` } : {}),
    })
    .where(and(eq(tasks.id, taskId), eq(tasks.status, 'PENDING')));
}

/** The outcome of a submission that found its provider at its limit: try again shortly. */
export function busy(provider: Provider): JobOutcome {
  return { retryInMs: 500 + Math.random() * 1000, error: `${provider} at its limit` };
}

/** Tasks of a provider holding a slot: sent (or being sent) upstream and not final. */
export async function countInFlight(db: DbOrTx, provider: Provider): Promise<number> {
  const [row] = await run(
    db,
    'tasks-in-flight',
    (db) =>
      db
        .select({ n: sql<number>`count(*)::int` })
        .from(tasks)
        .where(
          and(
            eq(tasks.provider, sql.placeholder('provider')),
            or(
              inArray(tasks.status, ['SUBMITTED', 'PROCESSING']),
              and(eq(tasks.status, 'PENDING'), sql`${tasks.submitStartedAt} is not null`),
            ),
          ),
        ),
    { provider },
  );
  return row?.n ?? 0;
}

/**
 * Creates that reached a provider since `since` (rate windows). The provider counts a create when it
 * arrives, somewhere between our send (submit_started_at) and its answer (submitted_at): an answered
 * create counts from its answer, one still in flight from its send. Counting answered ones from the send
 * would free their slot early whenever a request took longer to arrive than the margin.
 */
export async function countSubmitsSince(db: DbOrTx, provider: Provider, since: Date): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(tasks)
    .where(
      and(
        eq(tasks.provider, provider),
        sql`coalesce(${tasks.submittedAt}, ${tasks.submitStartedAt}) > ${since.toISOString()}`,
      ),
    );
  return row?.n ?? 0;
}
