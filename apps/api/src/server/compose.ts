import type { Dispatcher } from 'undici';
import { type Admit, createAdmission } from '../auth/admission.js';
import { ApiKeyAuthenticator } from '../auth/api-keys.js';
import { bootstrapSandboxTenant } from '../auth/bootstrap.js';
import { KeyLastUsed } from '../auth/last-used.js';
import { KeyRateLimiter } from '../auth/rate-limit.js';
import { type Config, isSandbox } from '../config.js';
import { openDatabase } from '../db/client.js';
import { JOBS_CHANNEL, JobQueue, type JobRow } from '../jobs/queue.js';
import { Worker } from '../jobs/worker.js';
import type { ContextServices } from '../graphql/yoga.js';
import { createLogger, type Logger } from '../logger.js';
import { createSafeDispatcher } from '../media/safe-fetch.js';
import { FIRST_SWEEP_AFTER_MS, MediaLifecycle } from '../media/lifecycle.js';
import { MediaStore } from '../media/store.js';
import { Metrics } from '../metrics.js';
import { AdapterRegistry, buildAdapterRegistry, sandboxOrigins } from '../providers/registry.js';
import type { TaskAdapter } from '../providers/types.js';
import { ProviderHealth } from '../providers/health.js';
import { ARCHIVE_CHANGE_JOB, type ArchiveSettings, DEFAULT_ARCHIVE, OutputArchiver } from '../outputs/archiver.js';
import { OutputLinks } from '../outputs/links.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openObjectStore } from '../storage/open.js';
import { createClipwirePubSub, type PubSubHandle } from '../pubsub.js';
import { TenantFeeds } from '../tasks/feed.js';
import { DEFAULT_ENGINE, type EngineSettings, TaskService } from '../tasks/service.js';
import { WEBHOOK_RETENTION_SWEEP_MS, WEBHOOK_RETRY_SCHEDULE_MS, WebhookService } from '../webhooks/service.js';

export interface AppOptions {
  config: Config;
  log?: Logger;
  /** The simulator started beside the API: every provider in sandbox mode without a base URL goes there. */
  sandboxUrl?: string;
  dispatcher?: Dispatcher;
  /** Overrides of the engine's timings and limits (tests shorten them). */
  engine?: Partial<EngineSettings>;
  /** Overrides of the webhook retry schedule (tests shorten it). */
  webhookScheduleMs?: number[];
  /** How often old webhook deliveries are deleted (tests shorten it). */
  webhookRetentionSweepMs?: number;
  /** Circuit breaker settings (tests shorten the reset). */
  breaker?: ConstructorParameters<typeof ProviderHealth>[0];
  /** The GraphQL endpoint's body limit, JSON and multipart alike (tests lower it). */
  maxGraphQLBodyBytes?: number;
  /** Adapters used instead of the configured providers' (tests drive the engine with a fake one). */
  adapters?: TaskAdapter[];
  /** Overrides of the output archive's settings (tests shorten its retries). */
  archive?: Partial<ArchiveSettings>;
}

/** The archive pool's longest sleep, in poll intervals, when it knows of no job due. */
const ARCHIVE_IDLE_FACTOR = 6;

/** Everything the API's surfaces (HTTP, GraphQL, WebSocket) are built on. */
export interface Services extends ContextServices {
  config: Config;
  authenticator: ApiKeyAuthenticator;
  /** Keys' last-used times, written in batches at most once a minute per key. */
  lastUsed: KeyLastUsed;
  /** Credentials, then the key's rate limit: for GraphQL over HTTP. */
  admit: Admit;
  bus: PubSubHandle;
  metrics: Metrics;
  /** Set on the first sandbox start: the key of the bootstrap tenant. */
  sandboxApiKey: string | null;
  media: MediaStore;
  /** A signed, expiring link (absolute URL) to a stored input's bytes. */
  mediaLink(id: string, ttlSeconds: number): string;
  /** Where media bytes live (task inputs, archived outputs). */
  objects: ObjectStore;
  /** Retention, erasure and the orphan sweep of stored media. */
  lifecycle: MediaLifecycle;
  /** Clipwire's signed links to archived outputs. */
  outputLinks: OutputLinks;
  archiver: OutputArchiver;
  jobs: JobQueue;
  /** In the worker and all roles: job workers, the poller and LISTEN for new jobs. */
  startWork(): Promise<void>;
  /** Stops the poller, finishes the jobs in hand (releasing the rest) and stops listening. */
  stopWork(): Promise<void>;
  /** Closes what is left: breakers, outbound clients, the bus and the database. */
  close(): Promise<void>;
}

/**
 * The composition root: the database, the services and the job workers, wired from the
 * configuration. `url` is where the API listens, for the links handed to providers.
 */
export async function composeServices(options: AppOptions, url: () => string): Promise<Services> {
  const { config } = options;
  const log = options.log ?? createLogger(config.logLevel);
  const db = await openDatabase(config.database);
  const lastUsed = new KeyLastUsed(db.db, log);
  const authenticator = new ApiKeyAuthenticator(db.db, lastUsed);
  const rateLimiter = new KeyRateLimiter(config.rateLimit.perSecond, config.rateLimit.burst);
  const bus = createClipwirePubSub(config.redisUrl);
  const pubsub = bus.pubsub;
  const metrics = new Metrics();
  const feeds = new TenantFeeds(pubsub, (tenantId, fn) => db.asTenant(tenantId, fn));
  const sandboxApiKey = isSandbox(config) ? await bootstrapSandboxTenant(db.db, config.dataDir, log) : null;
  const objects = await openObjectStore(config);
  const media = await MediaStore.open(db.db, objects, config.mediaUrlSecret);
  const adapters = options.adapters
    ? new AdapterRegistry(options.adapters)
    : buildAdapterRegistry(config, { sandboxUrl: options.sandboxUrl, dispatcher: options.dispatcher });
  // URL media are probed through this client; only the sandbox simulator's own origin may be a
  // private address (loopback here, a compose network's in a cluster).
  const safeDispatcher = createSafeDispatcher({ allowOrigins: sandboxOrigins(config, options.sandboxUrl) });

  // Only Postgres has other processes to wake with NOTIFY.
  const jobs = new JobQueue(db.db, config.worker.id, db.driver === 'postgres');
  const health = new ProviderHealth(
    options.breaker,
    (provider, outcome, seconds) => metrics.providerCalls.observe({ provider, outcome }, seconds),
    (provider, state) =>
      (state === 'OPEN' ? log.warn : log.info).call(log, { provider, circuit: state }, `${provider} circuit ${state}`),
  );
  const webhookDispatcher = createSafeDispatcher({ allowOrigins: config.webhookAllowOrigins });
  const webhooks = new WebhookService(db.db, jobs, log, {
    onOutcome: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
    dispatcher: webhookDispatcher,
    timeoutMs: 10_000,
    scheduleMs: options.webhookScheduleMs ?? WEBHOOK_RETRY_SCHEDULE_MS,
    retentionDays: config.webhookDeliveryRetentionDays,
  });
  const engine: EngineSettings = {
    ...DEFAULT_ENGINE,
    concurrency: { KLING: config.limits.klingConcurrency },
    rate: { KIE: { creates: config.limits.kieCreatesPer10s, windowMs: 10_000 } },
    deadlineMs: config.poll.deadlineMs,
    unconfirmedGraceMs: 2 * config.providerTimeoutMs + 5000,
    costEstimates: config.costEstimates,
    routeWaitMs: config.route.waitMs,
    routeSubmitAttempts: config.route.submitAttempts,
    ...options.engine,
  };
  const publicBaseUrl = () => config.publicBaseUrl ?? url();
  const lifecycle = new MediaLifecycle(db.db, objects, jobs, log, config.inputRetentionDays);
  const tasks = new TaskService({
    db: db.db,
    pubsub,
    adapters,
    media,
    lifecycle,
    jobs,
    health,
    // A change queues its webhook and, when it leaves outputs to archive (SUCCEEDED), their archive job.
    webhooks: {
      changeJobs: { ...webhooks.changeJobs, jobs: jobs.insertSelect([webhooks.changeJobSpec, ARCHIVE_CHANGE_JOB]) },
    },
    log,
    publicBaseUrl,
    engine,
    archiveOutputs: config.outputs.archive,
  });
  const outputLinks = new OutputLinks((value) => media.mac(value), publicBaseUrl);
  const archiver = new OutputArchiver({
    db: db.db,
    store: objects,
    jobs,
    dispatcher: safeDispatcher,
    links: outputLinks,
    log,
    changeJobs: webhooks.changeJobs,
    publish: (task, eventId) => tasks.publish(task, eventId),
    settings: {
      ...DEFAULT_ARCHIVE,
      maxBytes: config.outputs.maxBytes,
      retentionDays: config.outputs.retentionDays,
      ...options.archive,
    },
  });
  // Two pools: refreshes (callbacks, polls) mostly wait on a provider round trip and come in
  // bursts, so they get their own, larger pool and never queue behind submissions or webhooks.
  const handlers = {
    submit: (j: JobRow, claim?: unknown) => tasks.submitJob(j, claim),
    refresh: (j: JobRow) => tasks.refreshJob(j),
    webhook: (j: JobRow) => webhooks.deliverJob(j),
    archive: (j: JobRow) => archiver.archiveJob(j),
    retention: (j: JobRow) => archiver.retentionJob(j),
    maintenance: (j: JobRow) => lifecycle.job(j),
  };
  // A submission's claim also takes its slot, commits its attempt and reads its media: one transaction.
  const pool = { idleMs: config.poll.intervalMs, leaseMs: config.worker.leaseMs, steps: { submit: tasks.claimSubmit } };
  const workers = [
    new Worker(
      jobs,
      handlers,
      { ...pool, queues: ['submit', 'webhook', 'maintenance'], concurrency: config.worker.concurrency },
      log,
    ),
    new Worker(jobs, handlers, { ...pool, queues: ['refresh'], concurrency: config.worker.concurrency * 4 }, log),
    // Copies of outputs are long downloads: a pool of their own, so they never hold back the engine.
    // Its jobs are queued by this process (a nudge) or another (NOTIFY), or planned (the claim reads
    // when): when it knows of nothing due it looks again only every ARCHIVE_IDLE_FACTOR poll intervals
    // (for a dead process's lease or a lost NOTIFY; a copy can wait that long), not every interval.
    new Worker(
      jobs,
      handlers,
      {
        ...pool,
        idleMs: ARCHIVE_IDLE_FACTOR * config.poll.intervalMs,
        queues: ['archive', 'retention'],
        concurrency: 4,
      },
      log,
    ),
  ];
  let unlisten: (() => Promise<void>) | undefined;
  let stopRetention: (() => void) | undefined;

  return {
    config,
    log,
    db,
    authenticator,
    lastUsed,
    admit: createAdmission(authenticator, rateLimiter),
    bus,
    pubsub,
    metrics,
    feeds,
    sandboxApiKey,
    media,
    mediaLink: (id, ttlSeconds) => `${publicBaseUrl()}${media.signedPath(id, Date.now(), ttlSeconds)}`,
    objects,
    lifecycle,
    outputLinks,
    archiver,
    adapters,
    safeDispatcher,
    jobs,
    health,
    webhooks,
    tasks,
    async startWork() {
      if (config.role === 'api') return;
      // Embedded PGlite is one process by construction: jobs it held when it died are free now.
      if (db.driver === 'pglite') await jobs.releaseAll();
      await tasks.pollRunningTasksNow();
      stopRetention = webhooks.startRetention(options.webhookRetentionSweepMs ?? WEBHOOK_RETENTION_SWEEP_MS);
      // Media kept in the database before the object store are moved; the retention sweeps start a
      // while after the start (not within it), then run hourly. Queued before the workers' first claim,
      // which reads when they fall due.
      await lifecycle.schedule();
      await archiver.scheduleRetention(FIRST_SWEEP_AFTER_MS);
      for (const worker of workers) worker.start();
      tasks.startPolling(config.poll.intervalMs);
      unlisten = await db.listen?.(JOBS_CHANNEL, (payload) => jobs.onNotify(payload));
    },
    async stopWork() {
      tasks.stopPolling();
      stopRetention?.();
      if (config.role !== 'api') await Promise.all(workers.map((w) => w.stop())); // finish the jobs in hand, release the rest
      await unlisten?.();
    },
    async close() {
      await lastUsed.stop();
      health.shutdown();
      await safeDispatcher.close();
      await webhookDispatcher.close();
      await bus.close();
      await db.close();
      await objects.close();
    },
  };
}
