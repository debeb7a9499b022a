import { randomBytes, randomUUID } from 'node:crypto';
import type { TaskEventType } from '@clipwire/schema';
import {
  taskEvents,
  webhookDeliveries,
  webhookSecrets,
  type JobRow,
  type WebhookDeliveryRow,
} from '@clipwire/schema/tables';
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { crashPoint } from '../crash.js';
import type { Database } from '../db/client.js';
import type { JobOutcome, JobQueue, JobSelect } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import { MediaFetchError, validateFetchUrl } from '../media/safe-fetch.js';
import { publicEvent, publicTask } from '../tasks/public.js';
import { findTaskById } from '../tasks/repository.js';
import type { ChangeJobs } from '../tasks/transitions.js';
import { deleteDeliveriesBefore, findDelivery, recordAttempt } from './deliveries.js';
import { sendSigned, type AttemptResult, type SendSettings } from './send.js';

/** The body's `type` per event type: a status change, the end of archiving the task's outputs, a move along the route. */
const WEBHOOK_TYPES: Record<TaskEventType, string> = {
  STATUS_CHANGED: 'task.updated',
  OUTPUTS_ARCHIVED: 'task.outputs_archived',
  OUTPUTS_ARCHIVE_FAILED: 'task.outputs_archive_failed',
  ROUTED: 'task.routed',
};

/**
 * Delay before each retry of a failed delivery: quick at first, then hours apart, about 27 hours
 * in all. After the last one the delivery is given up (and logged).
 */
export const WEBHOOK_RETRY_SCHEDULE_MS = [
  5_000,
  30_000,
  2 * 60_000,
  10 * 60_000,
  30 * 60_000,
  60 * 60_000,
  2 * 3600_000,
  4 * 3600_000,
  8 * 3600_000,
  12 * 3600_000,
];

export interface WebhookSettings extends SendSettings {
  onOutcome?: (outcome: 'delivered' | 'retry' | 'given_up') => void;
  scheduleMs: number[];
  /** Deliveries (and their attempts) are deleted this many days after they were made. */
  retentionDays: number;
}

/** How often each worker process deletes the deliveries past their retention. */
export const WEBHOOK_RETENTION_SWEEP_MS = 3600_000;

/**
 * Signed webhooks for partners (Standard Webhooks): one delivery job per task event, queued in the
 * event's transaction, delivered in order per task (one job group per task), at least once, with
 * the same `webhook-id` on every retry. Sent through the SSRF-safe dispatcher, without following
 * redirects.
 */
export class WebhookService {
  constructor(
    private readonly db: Database,
    private readonly jobs: JobQueue,
    private readonly log: Logger,
    private readonly settings: WebhookSettings,
  ) {
    // The delivery (CTE `w`) and its job, written by the change's own statement.
    this.changeJobSpec = {
      queue: 'webhook',
      payload: sql`jsonb_build_object('deliveryId', w.id, 'eventId', e.id, 'taskId', w.task_id)`,
      groupKey: sql`'webhook:' || w.task_id::text`,
      from: sql`w cross join e`,
    };
    this.changeJobs = {
      rows: sql`insert into ${webhookDeliveries} (tenant_id, task_id, event_id, url)
        select t.tenant_id, t.id, e.id, t.webhook_url from t cross join e where t.webhook_url is not null
        returning id, task_id`,
      jobs: jobs.insertSelect([this.changeJobSpec]),
    };
  }

  /** The webhook job of a change as a SELECT, for a statement that queues other jobs too. */
  readonly changeJobSpec: JobSelect;

  /**
   * The webhook job of a change, queued by the change's own statement (CTEs `t`, the task, and `e`,
   * its event; see ChangeJobs): one delivery per event of a task with a webhook URL, in order per task.
   */
  readonly changeJobs: ChangeJobs;

  /** Checks a webhook URL when a task or tenant names it: http(s), no credentials, not a private address. */
  checkUrl(url: string): string | null {
    try {
      validateFetchUrl(url, this.settings.dispatcher.allowOrigins);
      return null;
    } catch (error) {
      if (!(error instanceof MediaFetchError)) throw error;
      // A private or loopback receiver is what local development uses: say how to allow one.
      const privateHost = error.code === 'BLOCKED_ADDRESS' || error.message.endsWith('is a loopback name');
      const hint = privateHost
        ? ' (to deliver to a private or loopback receiver, e.g. in local development, add its origin to WEBHOOK_ALLOW_ORIGINS)'
        : '';
      return `${error.message}${hint}`;
    }
  }

  /**
   * One attempt of a delivery. The attempt, the delivery's new state and the job's end (or its
   * rescheduling) commit in one transaction, after the request: a crash in between sends it again
   * (at least once), under the same `webhook-id`.
   */
  async deliverJob(job: JobRow): Promise<JobOutcome> {
    const target = await this.deliveryOf(job);
    if (!target) return { done: true };
    const { delivery, task, event } = target;
    const secrets = await this.activeSecrets(task.tenantId);
    const msgId = `evt_${event.id}`;
    const body = JSON.stringify({
      type: WEBHOOK_TYPES[event.type],
      timestamp: new Date().toISOString(),
      data: { task: publicTask(task), event: publicEvent(event) },
    });
    const result = await sendSigned({ url: delivery.url, msgId, body, secrets }, this.settings);
    if (result.ok) crashPoint('webhook:after-delivery');
    const delay = result.ok ? null : (this.settings.scheduleMs[job.attempts - 1] ?? null);
    const status = result.ok ? 'DELIVERED' : delay === null ? 'FAILED' : 'RETRYING';
    await this.db.transaction(async (tx) => {
      await recordAttempt(tx, delivery, result, {
        status,
        nextAttemptAt: delay === null ? null : new Date(Date.now() + delay),
      });
      if (delay === null) await this.jobs.completeIn(tx, job);
      else await this.jobs.retryIn(tx, job, delay, result.error ?? 'failed');
    });
    const log = this.log.child({
      taskId: task.id,
      tenant: task.tenantId,
      eventId: event.id,
      webhookId: msgId,
      deliveryId: delivery.id,
      attempt: job.attempts,
    });
    const failure = result.error;
    if (status === 'DELIVERED') {
      this.settings.onOutcome?.('delivered');
      log.debug({ status: result.httpStatus }, 'webhook delivered');
      return { done: true, completed: true };
    }
    if (status === 'FAILED') {
      this.settings.onOutcome?.('given_up');
      log.error({ failure }, 'webhook given up after the last retry');
      return { done: true, completed: true };
    }
    this.settings.onOutcome?.('retry');
    log.warn({ failure, retryInMs: delay }, 'webhook delivery failed; will retry');
    return { retryInMs: delay!, error: failure ?? 'failed', rescheduled: true };
  }

  /** The delivery a job is for, with its task and event; made here for a job queued before deliveries were recorded. */
  private async deliveryOf(job: JobRow) {
    const [event] = await this.db
      .select()
      .from(taskEvents)
      .where(eq(taskEvents.id, Number(job.payload.eventId)));
    const task = event ? await findTaskById(this.db, event.taskId) : null;
    if (!event || !task) return null;
    const deliveryId = typeof job.payload.deliveryId === 'string' ? job.payload.deliveryId : null;
    let [delivery] = deliveryId
      ? await this.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, deliveryId))
      : [];
    if (!delivery && !deliveryId && task.webhookUrl) {
      [delivery] = await this.db
        .insert(webhookDeliveries)
        .values({ tenantId: task.tenantId, taskId: task.id, eventId: event.id, url: task.webhookUrl })
        .returning();
    }
    return delivery ? { delivery, task, event } : null;
  }

  /**
   * A new delivery of the same event to the same URL, signed afresh but under the same `webhook-id`
   * (`evt_<event id>`), so a receiver that already has it can tell. Not ordered behind the task's
   * other deliveries. Null for an unknown id or another tenant's.
   */
  async redeliver(tenantId: string, deliveryId: string): Promise<WebhookDeliveryRow | null> {
    const original = await findDelivery(this.db, tenantId, deliveryId);
    if (!original) return null;
    const row = await this.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(webhookDeliveries)
        .values({
          tenantId,
          taskId: original.taskId,
          eventId: original.eventId,
          url: original.url,
          redeliveryOf: original.id,
        })
        .returning();
      await this.jobs.enqueue(tx, {
        queue: 'webhook',
        payload: { deliveryId: created!.id, eventId: created!.eventId, taskId: created!.taskId },
      });
      return created!;
    });
    this.jobs.nudge(['webhook']);
    return row;
  }

  /** Posts a signed sample event (`webhook.test`, its own `webhook-id`) to a checked URL now, and tells what happened. */
  async sendTest(tenantId: string, url: string): Promise<AttemptResult & { url: string; webhookId: string }> {
    const webhookId = `test_${randomUUID()}`;
    const body = JSON.stringify({
      type: 'webhook.test',
      timestamp: new Date().toISOString(),
      data: { message: 'A test event from Clipwire: your endpoint is reachable and can check the signature.' },
    });
    const secrets = await this.activeSecrets(tenantId);
    const result = await sendSigned({ url, msgId: webhookId, body, secrets }, this.settings);
    return { ...result, url, webhookId };
  }

  /**
   * Deletes the finished deliveries (and their attempts) older than the retention. Run periodically
   * by every worker process (see `startRetention`): idempotent, one statement.
   */
  async deleteExpiredDeliveries(): Promise<number> {
    const cutoff = new Date(Date.now() - this.settings.retentionDays * 86_400_000);
    const deleted = await deleteDeliveriesBefore(this.db, cutoff);
    if (deleted > 0)
      this.log.info({ deleted, retentionDays: this.settings.retentionDays }, 'old webhook deliveries deleted');
    return deleted;
  }

  /** Runs `deleteExpiredDeliveries` every `intervalMs` until the returned function is called. */
  startRetention(intervalMs: number): () => void {
    const timer = setInterval(() => {
      this.deleteExpiredDeliveries().catch((err: unknown) =>
        this.log.error({ err }, 'deleting old webhook deliveries failed'),
      );
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** The tenant's current secret, created on first use. */
  async currentSecret(tenantId: string): Promise<{ secret: string; createdAt: Date }> {
    const [current] = await this.db
      .select()
      .from(webhookSecrets)
      .where(and(eq(webhookSecrets.tenantId, tenantId), isNull(webhookSecrets.expiresAt)))
      .orderBy(desc(webhookSecrets.createdAt))
      .limit(1);
    if (current) return current;
    return this.rotate(tenantId, 0);
  }

  /** Makes a new current secret; the previous one keeps signing for `graceMs`. */
  async rotate(tenantId: string, graceMs: number): Promise<{ secret: string; createdAt: Date }> {
    return this.db.transaction(async (tx) => {
      await tx
        .update(webhookSecrets)
        .set({ expiresAt: new Date(Date.now() + graceMs) })
        .where(and(eq(webhookSecrets.tenantId, tenantId), isNull(webhookSecrets.expiresAt)));
      const [row] = await tx
        .insert(webhookSecrets)
        .values({ tenantId, secret: `whsec_${randomBytes(32).toString('base64')}` })
        .returning();
      return row!;
    });
  }

  private async activeSecrets(tenantId: string): Promise<string[]> {
    const rows = await this.db
      .select()
      .from(webhookSecrets)
      .where(
        and(
          eq(webhookSecrets.tenantId, tenantId),
          or(isNull(webhookSecrets.expiresAt), gt(webhookSecrets.expiresAt, new Date())),
        ),
      )
      .orderBy(desc(webhookSecrets.createdAt));
    if (rows.length > 0) return rows.map((r) => r.secret);
    return [(await this.currentSecret(tenantId)).secret];
  }
}
