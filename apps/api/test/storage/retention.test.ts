import { randomUUID } from 'node:crypto';
import { jobs, mediaObjects, tasks } from '@clipwire/schema/tables';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORPHAN_GRACE_MS } from '../../src/media/lifecycle.js';
import { uuidOf } from '../support/ids.js';
import { startS3, type TestS3 } from '../support/s3.js';
import { CREATE_AVATAR, eventually, fixture, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

const DELETE_TASK = /* GraphQL */ `
  mutation Delete($id: ID!) {
    deleteTask(id: $id) { id status erasedAt events { edges { node { status } } } }
  }
`;

describe.each(['fs', 's3'] as const)('stored inputs on %s: retention and deleteTask', (backend) => {
  let stack: Stack;
  let s3: TestS3 | undefined;
  beforeAll(async () => {
    if (backend === 's3') s3 = await startS3();
    stack = await startStack({ env: { ...(s3?.env ?? {}), INPUT_RETENTION_DAYS: '7' } });
  });
  afterAll(async () => {
    await stack?.stop();
    await s3?.stop();
  });

  const db = () => stack.app.db.db;
  const objects = () => stack.app.services.objects;

  /** Creates a Kling task with inline media; returns its uuid and its media rows' ids and keys. */
  async function create(externalTaskId: string) {
    const res = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId } });
    const relayId = res.data!.createAvatarVideo.id as string;
    const id = uuidOf(relayId);
    const media = await db().select().from(mediaObjects).where(eq(mediaObjects.taskId, id));
    expect(media).toHaveLength(2);
    return { relayId, id, media };
  }

  /**
   * Makes a task's media (and the task, unless `mediaOnly`) look created `days` ago. A running task keeps
   * its own age: one created days ago would be past its deadline and end FAILED (final) at the next poll.
   */
  async function age(taskId: string, days: number, mediaOnly = false) {
    const at = sql`now() - ${days} * interval '1 day'`;
    if (!mediaOnly) await db().update(tasks).set({ createdAt: at }).where(eq(tasks.id, taskId));
    await db().update(mediaObjects).set({ createdAt: at }).where(eq(mediaObjects.taskId, taskId));
  }

  const link = (mediaId: string) => `${stack.url}${stack.app.services.media.signedPath(mediaId)}`;

  it('the hourly retention job deletes the inputs of final tasks past INPUT_RETENTION_DAYS, and nothing else; /media then answers 410', async () => {
    const oldFinal = await create('old-final');
    const recentFinal = await create('recent-final');
    await stack.waitForFinal(oldFinal.relayId, 'status');
    await stack.waitForFinal(recentFinal.relayId, 'status');
    // A task still running: Kling takes an hour with this one.
    stack.sim.kling.setTiming({ processingAfterMs: 50, succeedAfterMs: 3_600_000 });
    const oldRunning = await create('old-running'); // inputs 8 days old, the task still PROCESSING
    await eventually(
      async () => (await db().select().from(tasks).where(eq(tasks.id, oldRunning.id)))[0]?.status === 'PROCESSING',
      15_000,
      'the running task to be PROCESSING',
    );
    stack.sim.kling.setTiming({ processingAfterMs: 300, succeedAfterMs: 700 });
    await age(oldFinal.id, 8);
    await age(oldRunning.id, 8, true);
    await age(recentFinal.id, 6);

    // The job queued itself for an hour from its last run: make it due now, as the hour passing would.
    const [queued] = await db()
      .update(jobs)
      .set({ runAt: sql`now()` })
      .where(eq(jobs.dedupeKey, 'maintenance:input-retention'))
      .returning();
    expect(queued?.queue).toBe('maintenance');
    stack.app.services.jobs.nudge(['maintenance']);
    await eventually(
      async () =>
        (await db().select().from(mediaObjects).where(eq(mediaObjects.taskId, oldFinal.id))).every((m) => m.deletedAt),
      15_000,
      'the old final task’s inputs to be deleted',
    );

    for (const media of oldFinal.media) {
      expect(await objects().head(media.storageKey!)).toBeNull();
      const res = await fetch(link(media.id));
      expect(res.status).toBe(410);
      expect((await res.json()).error).toMatch(/^media deleted: /);
    }
    for (const { media } of [recentFinal, oldRunning]) {
      for (const m of media) {
        expect(await objects().head(m.storageKey!), m.storageKey!).not.toBeNull();
        expect((await fetch(link(m.id))).status).toBe(200);
      }
      const rows = await db().select().from(mediaObjects).where(eq(mediaObjects.taskId, media[0]!.taskId!));
      expect(rows.every((m) => m.deletedAt === null)).toBe(true);
    }
    const [running] = await db().select().from(tasks).where(eq(tasks.id, oldRunning.id));
    expect(running!.status).toBe('PROCESSING');
    // It queued its next run, an hour on.
    const [next] = await db().select().from(jobs).where(eq(jobs.dedupeKey, 'maintenance:input-retention'));
    expect(next!.runAt.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    // The running task is left to finish (it is canceled here so the stack stops quickly).
    await stack.gql('mutation ($id: ID!) { cancelTask(id: $id) { status } }', { id: oldRunning.relayId });
  });

  it('deleteTask erases a task’s inputs and archived outputs at once, keeps the task and its events, and is repeatable', async () => {
    const task = await create('erase-me');
    const other = await create('keep-me');
    await stack.waitForFinal(task.relayId, 'status');
    await stack.waitForFinal(other.relayId, 'status');
    const tenantId = task.media[0]!.tenantId;
    // Archived outputs, as the output archiver writes them.
    await objects().put(`outputs/${tenantId}/${task.id}/video-0.mp4`, fixture('clip-4s.mp4'), {
      contentType: 'video/mp4',
    });
    await objects().put(`outputs/${tenantId}/${other.id}/video-0.mp4`, fixture('clip-4s.mp4'), {
      contentType: 'video/mp4',
    });

    const res = await stack.gql(DELETE_TASK, { id: task.relayId });
    const erased = res.data!.deleteTask;
    expect(erased.status).toBe('SUCCEEDED');
    expect(erased.erasedAt).toBeTruthy();
    expect(erased.events.edges.map((e: any) => e.node.status)).toContain('SUCCEEDED');
    for (const media of task.media) {
      expect(await objects().head(media.storageKey!)).toBeNull();
      expect((await fetch(link(media.id))).status).toBe(410);
    }
    expect(await objects().head(`outputs/${tenantId}/${task.id}/video-0.mp4`)).toBeNull();
    // Nothing of the other task.
    expect(await objects().head(`outputs/${tenantId}/${other.id}/video-0.mp4`)).not.toBeNull();
    for (const media of other.media) expect((await fetch(link(media.id))).status).toBe(200);

    // Still there for lookups and feeds; erasing again keeps the first erasure time.
    const again = await stack.gql(DELETE_TASK, { id: task.relayId });
    expect(again.data!.deleteTask.erasedAt).toBe(erased.erasedAt);
    const looked = await stack.gql('query ($id: ID!) { task(id: $id) { status erasedAt } }', { id: task.relayId });
    expect(looked.data!.task).toEqual({ status: 'SUCCEEDED', erasedAt: erased.erasedAt });
  });

  it('deleteTask cancels a task still running first, answers null for an unknown or another tenant’s task, and deletes nothing then', async () => {
    stack.sim.kling.setTiming({ processingAfterMs: 50, succeedAfterMs: 3_600_000 });
    const running = await create('erase-running');
    stack.sim.kling.setTiming({ processingAfterMs: 300, succeedAfterMs: 700 });
    const stranger = await stack.newTenant('stranger');
    const refused = await stack.gql(DELETE_TASK, { id: running.relayId }, stranger.apiKey);
    expect(refused.data!.deleteTask).toBeNull();
    for (const media of running.media) expect(await objects().head(media.storageKey!)).not.toBeNull();

    const res = await stack.gql(DELETE_TASK, { id: running.relayId });
    expect(res.data!.deleteTask).toMatchObject({ status: 'CANCELED' });
    expect(res.data!.deleteTask.erasedAt).toBeTruthy();
    for (const media of running.media) expect(await objects().head(media.storageKey!)).toBeNull();

    const unknown = Buffer.from('Task:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await stack.gql(DELETE_TASK, { id: unknown })).data!.deleteTask).toBeNull();
  });
  it('the orphan sweep deletes inputs older than the grace that no media row names, and nothing else', async () => {
    const kept = await create('sweep-kept');
    const tenantId = kept.media[0]!.tenantId;
    // What a create that crashed before its commit leaves: an object under inputs/ with no row.
    const orphanKey = `inputs/${tenantId}/${randomUUID()}`;
    await objects().put(orphanKey, Buffer.from('left by a crashed create'), { contentType: 'image/png' });
    const lifecycle = stack.app.services.lifecycle;

    // Young (a create may still be about to commit): kept.
    expect(await lifecycle.sweepOrphans(new Date())).toBe(0);
    expect(await objects().head(orphanKey)).not.toBeNull();

    // Past the grace (an hour): the orphan goes, the objects rows name stay.
    const later = new Date(Date.now() + ORPHAN_GRACE_MS + 60_000);
    expect(await lifecycle.sweepOrphans(later, ORPHAN_GRACE_MS, 2)).toBe(1);
    expect(await objects().head(orphanKey)).toBeNull();
    for (const media of kept.media) expect(await objects().head(media.storageKey!), media.storageKey!).not.toBeNull();
    expect(await lifecycle.sweepOrphans(later)).toBe(0);
    await stack.waitForFinal(kept.relayId, 'status');
  });
});
