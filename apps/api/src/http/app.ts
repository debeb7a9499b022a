import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { createAdmission } from '../auth/admission.js';
import { ApiKeyAuthenticator } from '../auth/api-keys.js';
import { KeyRateLimiter } from '../auth/rate-limit.js';
import { bootstrapSandboxTenant } from '../auth/bootstrap.js';
import { isSandbox, type Config } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/client.js';
import type { SubscriptionDelivery } from '../graphql/ws-delivery.js';
import { createGraphQLWebSocket, startRevocationSweep } from '../graphql/ws.js';
import { createGraphQLServer } from '../graphql/yoga.js';
import { createLogger, type Logger } from '../logger.js';
import { MediaStore } from '../media/store.js';
import { createSafeDispatcher } from '../media/safe-fetch.js';
import { buildAdapters } from '../providers/build.js';
import { Metrics } from '../metrics.js';
import { createClipwirePubSub } from '../pubsub.js';
import { JOBS_CHANNEL, JobQueue, Worker, type JobRow } from '../jobs/queue.js';
import { TenantFeeds } from '../tasks/feed.js';
import { ProviderHealth } from '../providers/health.js';
import { DEFAULT_ENGINE, TaskService, type EngineSettings } from '../tasks/service.js';
import { WEBHOOK_RETRY_SCHEDULE_MS, WebhookService } from '../webhooks/service.js';
import { createMetricsServer, metricsEndpoint } from './metrics.js';
import { createRouter } from './router.js';

export { GRAPHQL_BODY_LIMITS } from '../graphql/yoga.js';

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
  /** Circuit breaker settings (tests shorten the reset). */
  breaker?: ConstructorParameters<typeof ProviderHealth>[0];
  /** The GraphQL endpoint's body limit, JSON and multipart alike (tests lower it). */
  maxGraphQLBodyBytes?: number;
}

export interface App {
  server: Server;
  feeds: TenantFeeds;
  delivery: SubscriptionDelivery;
  db: DatabaseHandle;
  tasks: TaskService;
  webhooks: WebhookService;
  /** Set on the first sandbox start: the key of the bootstrap tenant. */
  sandboxApiKey: string | null;
  start(): Promise<string>;
  url(): string;
  /** Where metrics are scraped when METRICS_PORT is set (after start), else undefined. */
  metricsUrl(): string | undefined;
  stop(): Promise<void>;
}

/**
 * The whole API on one http.Server: GraphQL over HTTP (yoga) and WebSocket (graphql-ws), provider
 * callbacks, health endpoints and the web console. `start()` listens; `stop()` undoes everything.
 */
export async function buildApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const log = options.log ?? createLogger(config.logLevel);
  const db = await openDatabase(config.database);
  const authenticator = new ApiKeyAuthenticator(db.db);
  const rateLimiter = new KeyRateLimiter(config.rateLimit.perSecond, config.rateLimit.burst);
  const bus = createClipwirePubSub(config.redisUrl);
  const pubsub = bus.pubsub;
  const metrics = new Metrics();
  const feeds = new TenantFeeds(pubsub, (tenantId, fn) => db.asTenant(tenantId, fn));
  const sandboxApiKey = isSandbox(config) ? await bootstrapSandboxTenant(db.db, config.dataDir, log) : null;
  const media = await MediaStore.open(db.db, config.mediaUrlSecret);
  const adapters = buildAdapters(config, options.sandboxUrl, options.dispatcher);
  // URL media are probed through this client; only the sandbox simulator's own origin may be a
  // private address (loopback here, a compose network's in a cluster).
  const safeDispatcher = createSafeDispatcher({ allowOrigins: sandboxOrigins(config, options.sandboxUrl) });

  let listeningUrl: string | undefined;
  const url = () => {
    if (!listeningUrl) throw new Error('the app is not listening yet');
    return listeningUrl;
  };
  // Only Postgres has other processes to wake with NOTIFY.
  const jobs = new JobQueue(db.db, config.worker.id, db.driver === 'postgres');
  const health = new ProviderHealth(options.breaker, (provider, outcome, seconds) =>
    metrics.providerCalls.observe({ provider, outcome }, seconds),
  );
  const webhookDispatcher = createSafeDispatcher({ allowOrigins: config.webhookAllowOrigins });
  const webhooks = new WebhookService(db.db, jobs, log, {
    onOutcome: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
    dispatcher: webhookDispatcher,
    timeoutMs: 10_000,
    scheduleMs: options.webhookScheduleMs ?? WEBHOOK_RETRY_SCHEDULE_MS,
  });
  const engine: EngineSettings = {
    ...DEFAULT_ENGINE,
    concurrency: { KLING: config.limits.klingConcurrency },
    rate: { KIE: { creates: config.limits.kieCreatesPer10s, windowMs: 10_000 } },
    deadlineMs: config.poll.deadlineMs,
    unconfirmedGraceMs: 2 * config.providerTimeoutMs + 5000,
    ...options.engine,
  };
  const tasks = new TaskService({
    db: db.db,
    pubsub,
    adapters,
    media,
    jobs,
    health,
    webhooks,
    log,
    publicBaseUrl: () => config.publicBaseUrl ?? url(),
    engine,
  });
  // Two pools: refreshes (callbacks, polls) mostly wait on a provider round trip and come in
  // bursts, so they get their own, larger pool and never queue behind submissions or webhooks.
  const handlers = {
    submit: (j: JobRow, claim?: unknown) => tasks.submitJob(j, claim),
    refresh: (j: JobRow) => tasks.refreshJob(j),
    webhook: (j: JobRow) => webhooks.deliverJob(j),
  };
  // A submission's claim also takes its slot, commits its attempt and reads its media: one transaction.
  const pool = { idleMs: config.poll.intervalMs, leaseMs: config.worker.leaseMs, steps: { submit: tasks.claimSubmit } };
  const workers = [
    new Worker(jobs, handlers, { ...pool, queues: ['submit', 'webhook'], concurrency: config.worker.concurrency }, log),
    new Worker(jobs, handlers, { ...pool, queues: ['refresh'], concurrency: config.worker.concurrency * 4 }, log),
  ];
  let unlisten: (() => Promise<void>) | undefined;

  const admit = createAdmission(authenticator, rateLimiter);
  const { yoga, errors } = createGraphQLServer({
    config,
    services: { db, pubsub, feeds, tasks, adapters, health, webhooks, safeDispatcher, log },
    metrics,
    admit,
    maxBodyBytes: options.maxGraphQLBodyBytes,
  });

  const serveMetrics = metricsEndpoint({ config, metrics, db: db.db, jobs });
  const server = createServer(
    createRouter({ config, log, metrics, yoga, admit, tasks, media, db, bus, sandboxApiKey, serveMetrics }),
  );
  const metricsServer = config.metrics.port === undefined ? undefined : createMetricsServer(serveMetrics, log);

  const ws = createGraphQLWebSocket({ server, yoga, errors, authenticator, metrics });
  const stopRevocationSweep = startRevocationSweep(ws.sockets, db.db, log);

  return {
    server,
    feeds,
    delivery: ws.delivery,
    db,
    tasks,
    webhooks,
    sandboxApiKey,
    url,
    metricsUrl() {
      const address = metricsServer?.address() as AddressInfo | null | undefined;
      return address ? `http://${config.metrics.host}:${address.port}/metrics` : undefined;
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      if (metricsServer) {
        await new Promise<void>((resolve, reject) => {
          metricsServer.once('error', reject);
          metricsServer.listen(config.metrics.port, config.metrics.host, () => resolve());
        });
      }
      const { port } = server.address() as AddressInfo;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      listeningUrl = `http://${host}:${port}`;
      if (config.role !== 'api') {
        // Embedded PGlite is one process by construction: jobs it held when it died are free now.
        if (db.driver === 'pglite') await jobs.releaseAll();
        await tasks.pollRunningTasksNow();
        for (const worker of workers) worker.start();
        tasks.startPolling(config.poll.intervalMs);
        unlisten = await db.listen?.(JOBS_CHANNEL, (payload) => jobs.onNotify(payload));
      }
      log.info(
        {
          url: listeningUrl,
          database: db.driver,
          providers: adapters.list().map((a) => `${a.provider}:${a.kind}:${a.mode}`),
        },
        'clipwire api listening',
      );
      return listeningUrl;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      tasks.stopPolling();
      stopRevocationSweep();
      if (config.role !== 'api') await Promise.all(workers.map((w) => w.stop())); // finish the jobs in hand, release the rest
      await unlisten?.();
      await ws.close();
      server.closeAllConnections();
      await closed;
      health.shutdown();
      await safeDispatcher.close();
      await webhookDispatcher.close();
      await bus.close();
      await db.close();
    },
  };
}

function sandboxOrigins(config: Config, sandboxUrl: string | undefined): string[] {
  const urls = [config.kling, config.kie, config.digitalHuman]
    .filter((p) => p.mode === 'SANDBOX')
    .map((p) => p.baseUrl ?? sandboxUrl);
  return [...new Set(urls.filter((u): u is string => u !== undefined).map((u) => new URL(u).origin))];
}
