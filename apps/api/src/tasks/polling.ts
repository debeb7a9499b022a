import { isTerminalStatus, type TaskEventSource } from '@clipwire/schema';
import { tasks, type JobRow, type TaskRow } from '@clipwire/schema/tables';
import { and, inArray, sql } from 'drizzle-orm';
import { crashPoint } from '../crash.js';
import type { Database } from '../db/client.js';
import type { JobOutcome, JobQueue } from '../jobs/queue.js';
import { nextWake, WakeTimer } from '../jobs/wake-timer.js';
import type { Logger } from '../logger.js';
import type { ProviderHealth } from '../providers/health.js';
import type { AdapterRegistry } from '../providers/registry.js';
import { adapterFor, type TaskChanges } from './changes.js';
import { retryLater, type EngineSettings } from './engine-settings.js';
import { claimDuePolls, findOverdueTasks, nextPollDue } from './poll-queries.js';
import { findTaskById } from './repository.js';

export interface PollerDeps {
  db: Database;
  jobs: JobQueue;
  adapters: AdapterRegistry;
  health: ProviderHealth;
  log: Logger;
  engine: EngineSettings;
}

const done: JobOutcome = { done: true };

/**
 * Following running tasks: the refresh job (a callback or a poll says the task may have moved), the
 * poll rounds that queue it, and the deadlines past which a task ends FAILED.
 */
export class Poller {
  private readonly pollWake = new WakeTimer(() => void this.pollRound());
  private pollIntervalMs = 0;
  private polling = false;

  constructor(
    private readonly deps: PollerDeps,
    private readonly changes: TaskChanges,
  ) {}

  /** The refresh job: a callback (or the poller) says the task may have moved; read the provider's API. */
  async refreshJob(job: JobRow): Promise<JobOutcome> {
    const task = await findTaskById(this.deps.db, String(job.payload.taskId));
    if (!task || isTerminalStatus(task.status)) return done;
    if (task.status === 'PENDING') {
      // A callback can overtake the create's own answer: come back once the submission has landed.
      if (task.submitStartedAt !== null && job.attempts < 20)
        return { retryInMs: 500 * job.attempts, error: 'submission still in progress' };
      return done;
    }
    const source = job.payload.source === 'CALLBACK' ? 'CALLBACK' : 'POLL';
    try {
      await this.refreshFromProvider(task, source);
      return done;
    } catch (error) {
      return retryLater(job, error, 2000, this.deps.engine.retryMaxMs);
    }
  }

  /** Re-reads the task from the provider's API (the authenticated source of truth) and applies it. */
  async refreshFromProvider(task: TaskRow, source: TaskEventSource): Promise<TaskRow> {
    if (isTerminalStatus(task.status)) return task;
    const adapter = adapterFor(this.deps.adapters, task);
    const report = await this.deps.health.call(task.provider, () => adapter.lookup(task));
    crashPoint('refresh:after-provider-read');
    if (!report) return task;
    return (
      (await this.changes.applyReport(task, report, source)) ?? (await findTaskById(this.deps.db, task.id)) ?? task
    );
  }

  /**
   * One round of reconciliation, in one transaction: running tasks whose next poll is due get a refresh
   * job (each claimed by one process), tasks past their provider's deadline are found (and then end
   * FAILED), and the time of the next due poll or deadline is read. Returns that time (epoch ms), or
   * null when no task is running.
   */
  async pollOnce(): Promise<number | null> {
    const { engine } = this.deps;
    const round = await this.deps.db.transaction(async (tx) => {
      const due = await claimDuePolls(tx, 200, engine.maxPollDelayMs);
      if (due.length > 0) {
        await this.deps.jobs.enqueue(
          tx,
          ...due.map((t) => ({
            queue: 'refresh' as const,
            payload: { taskId: t.id, source: 'POLL' },
            dedupeKey: `refresh:${t.id}`,
          })),
        );
      }
      const overdue = await findOverdueTasks(tx, engine.deadlineMs, 100);
      // A full batch of due polls, or overdue tasks (failed below): another round at once.
      const next = due.length === 200 || overdue.length > 0 ? new Date() : await nextPollDue(tx, engine.deadlineMs);
      return { due, overdue, next };
    });
    if (round.due.length > 0) this.deps.jobs.nudge(['refresh']);
    for (const task of round.overdue) {
      const deadlineMs = engine.deadlineMs[task.provider];
      await this.changes.fail(
        task,
        'DEADLINE_EXCEEDED',
        null,
        `not finished within ${Math.round(deadlineMs / 60_000)} minutes of its creation`,
      );
    }
    return round.next?.getTime() ?? null;
  }

  /**
   * Runs pollOnce when the next poll or deadline falls due, and at least every `intervalMs` (polls
   * planned by other processes, which cannot tell this one); a poll this process plans sooner wakes it.
   * Nothing is queried while nothing is due.
   */
  startPolling(intervalMs: number): void {
    this.pollIntervalMs = intervalMs;
    this.polling = true;
    this.planPoll(Date.now());
  }

  stopPolling(): void {
    this.polling = false;
    this.pollWake.cancel();
  }

  /** Polls at `at` (epoch ms) unless an earlier round is planned. */
  planPoll(at: number): void {
    if (this.polling) this.pollWake.at(at);
  }

  private async pollRound(): Promise<void> {
    let next: number | null;
    try {
      next = await this.pollOnce();
    } catch (err) {
      this.deps.log.error({ err }, 'poll failed');
      next = Date.now() + 1000;
    }
    this.planPoll(nextWake(next, this.pollIntervalMs));
  }

  /**
   * At a worker's start: callbacks may have been lost while no worker ran, so every running task
   * gets a poll now rather than at its planned time.
   */
  async pollRunningTasksNow(): Promise<number> {
    const moved = await this.deps.db
      .update(tasks)
      .set({ nextPollAt: sql`now()` })
      .where(and(inArray(tasks.status, ['SUBMITTED', 'PROCESSING']), sql`${tasks.nextPollAt} > now()`))
      .returning({ id: tasks.id });
    return moved.length;
  }
}
