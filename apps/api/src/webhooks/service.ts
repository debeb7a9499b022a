import { randomBytes } from 'node:crypto';
import type { TaskEventType } from '@clipwire/schema';
import { taskEvents, webhookSecrets, type JobRow } from '@clipwire/schema/tables';
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { crashPoint } from '../crash.js';
import type { Database } from '../db/client.js';
import type { JobOutcome, JobQueue, JobSelect } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import { MediaFetchError, validateFetchUrl, type SafeAgent } from '../media/safe-fetch.js';
import { publicEvent, publicTask } from '../tasks/public.js';
import { findTaskById } from '../tasks/repository.js';
import type { ChangeJobs } from '../tasks/transitions.js';

/** The body's `type` per event type: a status change, or the end of archiving the task's outputs. */
const WEBHOOK_TYPES: Record<TaskEventType, string> = {
  STATUS_CHANGED: 'task.updated',
  OUTPUTS_ARCHIVED: 'task.outputs_archived',
  OUTPUTS_ARCHIVE_FAILED: 'task.outputs_archive_failed',
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

export interface WebhookSettings {
  onOutcome?: (outcome: 'delivered' | 'retry' | 'given_up') => void;
  dispatcher: SafeAgent;
  timeoutMs: number;
  scheduleMs: number[];
}

/**
 * Signed webhooks for partners (Standard Webhooks): one delivery job per task event, queued in the
 * event's transaction, delivered in order per task (one job group per task), at least once, with
 * the same `webhook-id` on every retry. Sent through the SSRF-safe dispatcher, without following
 * redirects.
 */
export class WebhookService {
  constructor(
    private readonly db: Database,
    jobs: JobQueue,
    private readonly log: Logger,
    private readonly settings: WebhookSettings,
  ) {
    this.changeJobSpec = {
      queue: 'webhook',
      payload: sql`jsonb_build_object('eventId', e.id, 'taskId', t.id)`,
      groupKey: sql`'webhook:' || t.id::text`,
      from: sql`t cross join e where t.webhook_url is not null`,
    };
    this.changeJobs = jobs.insertSelect([this.changeJobSpec]);
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

  async deliverJob(job: JobRow): Promise<JobOutcome> {
    const eventId = Number(job.payload.eventId);
    const [event] = await this.db.select().from(taskEvents).where(eq(taskEvents.id, eventId));
    const task = event ? await findTaskById(this.db, event.taskId) : null;
    if (!event || !task?.webhookUrl) return { done: true };
    const secrets = await this.activeSecrets(task.tenantId);
    const msgId = `evt_${event.id}`;
    const timestamp = new Date();
    const body = JSON.stringify({
      type: WEBHOOK_TYPES[event.type],
      timestamp: timestamp.toISOString(),
      data: { task: publicTask(task), event: publicEvent(event) },
    });
    // One signature per active secret (during a rotation, old and new), space-separated.
    const signature = secrets.map((s) => new Webhook(s).sign(msgId, timestamp, body)).join(' ');
    const log = this.log.child({ taskId: task.id, eventId: event.id, webhookId: msgId, attempt: job.attempts });
    let failure: string;
    try {
      validateFetchUrl(task.webhookUrl, this.settings.dispatcher.allowOrigins);
      const res = await request(task.webhookUrl, {
        method: 'POST',
        dispatcher: this.settings.dispatcher,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Clipwire-Webhooks/1',
          'webhook-id': msgId,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        headersTimeout: this.settings.timeoutMs,
        bodyTimeout: this.settings.timeoutMs,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
      if (res.statusCode >= 200 && res.statusCode < 300) {
        crashPoint('webhook:after-delivery');
        this.settings.onOutcome?.('delivered');
        log.debug({ status: res.statusCode }, 'webhook delivered');
        return { done: true };
      }
      failure = `receiver answered HTTP ${res.statusCode}`;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    const delay = this.settings.scheduleMs[job.attempts - 1];
    if (delay === undefined) {
      this.settings.onOutcome?.('given_up');
      log.error({ failure }, 'webhook given up after the last retry');
      return { done: true };
    }
    this.settings.onOutcome?.('retry');
    log.warn({ failure, retryInMs: delay }, 'webhook delivery failed; will retry');
    return { retryInMs: delay, error: failure };
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
