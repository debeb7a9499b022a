import type { Logger } from '../logger.js';
import type { ClaimStep, JobHandler, JobQueue, JobRow, QueueName } from './queue.js';
import { nextWake, WakeTimer } from './wake-timer.js';

export interface WorkerOptions {
  queues: readonly QueueName[];
  concurrency: number;
  /** The longest a worker sleeps between claims when it knows of nothing due (other processes' work, expired leases). */
  idleMs: number;
  leaseMs: number;
  /** Work done inside the claim's transaction, per queue. */
  steps?: Partial<Record<QueueName, ClaimStep>>;
}

/**
 * Runs claimed jobs with bounded concurrency; a job is held under a lease that is extended while it
 * runs. A worker claims when it is told jobs were queued (a nudge in this process, a NOTIFY from
 * another), when a claim filled every free slot (there may be more), when a job of a group ends (the
 * next may run), and when the next job it knows of falls due; otherwise it sleeps, at most `idleMs`.
 * A claim that finds nothing is not repeated after every job.
 */
export class Worker {
  private running = 0;
  /** The ids of the jobs running here: one whose lease ran out while it ran (a stalled process) can come back in a claim. */
  private readonly runningIds = new Set<number>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly wake = new WakeTimer(() => void this.tick());
  private stopped = true;
  private claiming = false;
  /** The claims under way (stop waits for them: the jobs they take are run, not left leased). */
  private round: Promise<void> = Promise.resolve();
  private again = false;
  /** Work may be waiting for a free slot: claim when a job ends. */
  private wanted = false;
  private readonly onNudge = (queues?: readonly QueueName[]) => {
    if (!queues || queues.some((q) => this.opts.queues.includes(q))) void this.tick();
  };

  constructor(
    private readonly queue: JobQueue,
    private readonly handlers: Partial<Record<QueueName, JobHandler>>,
    private readonly opts: WorkerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.queue.events.on('nudge', this.onNudge);
    void this.tick();
  }

  /** Stops claiming, waits for a claim under way and the jobs in hand, and releases anything of its queues still held. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.cancel();
    this.queue.events.off('nudge', this.onNudge);
    await this.round;
    await Promise.allSettled([...this.inflight]);
    await this.queue.release(this.opts.queues);
  }

  /** Claims again at `at` (epoch ms) unless an earlier wake is planned. */
  private wakeUpAt(at: number): void {
    if (!this.stopped) this.wake.at(at);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = true;
    this.round = this.claimRound();
    await this.round;
  }

  /** Claims until no free slot is left or nothing more is due, then sleeps until the next due job. */
  private async claimRound(): Promise<void> {
    let nextDue: number | null = null;
    try {
      do {
        this.again = false;
        const free = this.opts.concurrency - this.running;
        if (free <= 0) {
          this.wanted = true;
          break;
        }
        const claim = await this.queue.claim(this.opts.queues, free, this.opts.leaseMs, this.opts.steps);
        // A job of ours whose lease ran out while it ran is claimed again (its lease renewed), not run twice.
        for (const { job, context } of claim.jobs) if (!this.runningIds.has(job.id)) this.run(job, context);
        // Every free slot was filled: there may be more.
        if (claim.full) this.again = true;
        else if (claim.nextDueAt) nextDue = Math.min(nextDue ?? Number.POSITIVE_INFINITY, claim.nextDueAt.getTime());
      } while (this.again && !this.stopped);
    } catch (error) {
      this.log.error({ err: error }, 'claiming jobs failed');
      nextDue = Date.now() + 1000;
    } finally {
      this.claiming = false;
    }
    this.wakeUpAt(nextWake(nextDue, this.opts.idleMs));
  }

  private run(job: JobRow, context: unknown): void {
    this.running++;
    this.runningIds.add(job.id);
    const heartbeat = setInterval(
      () => void this.queue.extend(job, this.opts.leaseMs).catch(() => {}),
      this.opts.leaseMs / 3,
    );
    const p = (async () => {
      const handler = this.handlers[job.queue];
      try {
        const outcome = handler
          ? await handler(job, context)
          : { retryInMs: 60_000, error: `no handler for ${job.queue}` };
        if ('retryInMs' in outcome) {
          if (!outcome.rescheduled) await this.queue.retry(job, outcome.retryInMs, outcome.error);
          this.wakeUpAt(Date.now() + outcome.retryInMs);
        } else if (!outcome.completed) {
          await this.queue.complete(job);
        }
      } catch (error) {
        this.log.error({ err: error, jobId: job.id, queue: job.queue }, 'job failed');
        const delay = Math.min(60_000, 1000 * 2 ** job.attempts);
        await this.queue.retry(job, delay, String(error)).catch(() => {});
        this.wakeUpAt(Date.now() + delay);
      } finally {
        clearInterval(heartbeat);
        this.running--;
        this.runningIds.delete(job.id);
      }
    })().finally(() => {
      this.inflight.delete(p);
      // The next job of its group can run now; work that found every slot taken can be claimed.
      if (this.wanted || job.groupKey !== null) {
        this.wanted = false;
        void this.tick();
      }
    });
    this.inflight.add(p);
  }
}
