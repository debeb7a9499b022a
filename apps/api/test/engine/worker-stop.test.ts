import { jobs } from '@clipwire/schema/tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/db/client.js';
import { type JobOutcome, JobQueue } from '../../src/jobs/queue.js';
import { Worker } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/stack.js';

/**
 * The pools of one process share its worker id (a job's `locked_by`). A pool that stops must hand back
 * only its own queues' jobs: a job another pool is still running stays held, and its end deletes it
 * (released, it could not be deleted by its end, and would run again at the next start).
 */
let database: TestDatabase;
let handle: DatabaseHandle;

beforeAll(async () => {
  database = await createTestDatabase();
  handle = await openDatabase(database.target);
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

describe('stopping one pool of a process', () => {
  it('leaves the jobs another pool is running held, and their end deletes them', async () => {
    const queue = new JobQueue(handle.db, 'w-stop-test', false);
    const log = createLogger('silent');
    let finish: (outcome: JobOutcome) => void = () => {};
    let started = false;
    const slow = () =>
      new Promise<JobOutcome>((resolve) => {
        started = true;
        finish = resolve;
      });
    const options = { concurrency: 1, idleMs: 60_000, leaseMs: 60_000 };
    const archive = new Worker(queue, { archive: slow }, { ...options, queues: ['archive'] }, log);
    const engine = new Worker(queue, {}, { ...options, queues: ['submit'] }, log);
    archive.start();
    engine.start();
    await queue.enqueue(handle.db, { queue: 'archive', payload: { taskId: 'x' } });
    queue.nudge(['archive']);
    await eventually(async () => started, 10_000, 'the archive job to start');

    await engine.stop();
    const [held] = await handle.db.select().from(jobs);
    expect(held?.lockedBy).toBe('w-stop-test');

    finish({ done: true });
    await archive.stop();
    expect(await handle.db.select().from(jobs)).toEqual([]);
  });
});
