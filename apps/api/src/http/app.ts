import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { UUID_PATTERN } from '@clipwire/schema';
import { webRoot } from '@clipwire/web';
import type { GraphQLError } from 'graphql';
import type { Dispatcher } from 'undici';
import { createAdmission } from '../auth/admission.js';
import { ApiKeyAuthenticator } from '../auth/api-keys.js';
import { KeyRateLimiter } from '../auth/rate-limit.js';
import { bootstrapSandboxTenant, SANDBOX_KEY_FILE } from '../auth/bootstrap.js';
import { isSandbox, type Config } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/client.js';
import type { SubscriptionDelivery } from '../graphql/ws-delivery.js';
import { createGraphQLWebSocket, startRevocationSweep } from '../graphql/ws.js';
import { createGraphQLServer, GRAPHQL_PATH } from '../graphql/yoga.js';
import { createLogger, type Logger } from '../logger.js';
import { MediaStore } from '../media/store.js';
import { createSafeDispatcher } from '../media/safe-fetch.js';
import { buildAdapters } from '../providers/build.js';
import { providerForSlug } from '../providers/registry.js';
import { Metrics } from '../metrics.js';
import { createClipwirePubSub } from '../pubsub.js';
import { JOBS_CHANNEL, JobQueue, Worker, type JobRow } from '../jobs/queue.js';
import { TenantFeeds } from '../tasks/feed.js';
import { countTasksByStatus } from '../tasks/repository.js';
import { ProviderHealth } from '../providers/health.js';
import { DEFAULT_ENGINE, MAX_CALLBACK_BYTES, TaskService, type EngineSettings } from '../tasks/service.js';
import { WEBHOOK_RETRY_SCHEDULE_MS, WebhookService } from '../webhooks/service.js';
import { BodyTooLargeError, readBody } from './body.js';
import { serveStatic } from './static.js';

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

const MEDIA_PATH = new RegExp(`^/media/(${UUID_PATTERN})$`);
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

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      log.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    const started = process.hrtime.bigint();
    const routeName = routeLabel(path);
    const requestId = String(req.headers['x-request-id'] ?? '').slice(0, 64) || randomUUID();
    res.setHeader('x-request-id', requestId);
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ route: routeName, method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route: routeName }, seconds);
      if (routeName !== '/healthz' && routeName !== '/metrics') {
        log.debug(
          { requestId, method, route: routeName, status: res.statusCode, ms: Math.round(seconds * 1000) },
          'request',
        );
      }
    });
    if (path === '/metrics' && method === 'GET' && config.metrics.port === undefined) return serveMetrics(req, res);
    if (path === GRAPHQL_PATH) {
      if (method !== 'POST') return yoga.handle(req, res, { req, res });
      // Credentials and the rate limit are checked before a byte of the body is read or parsed.
      const admission = await admit(req.headers.authorization);
      if ('refusal' in admission) return sendGraphQLError(res, admission.refusal);
      return yoga.handle(req, res, { req, res, principal: admission.principal });
    }
    const callback = /^\/callbacks\/([a-z-]+)\/([^/]+)$/.exec(path);
    if (callback) {
      if (method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
      let body: string;
      try {
        body = await readBody(req, MAX_CALLBACK_BYTES);
      } catch (error) {
        if (error instanceof BodyTooLargeError) return sendJson(res, 413, { error: 'callback body over 64 KiB' });
        throw error;
      }
      const outcome = await tasks.handleCallback(callback[1]!, callback[2]!, body, req.headers);
      return sendJson(res, outcome.status, { message: outcome.message });
    }
    const mediaPath = MEDIA_PATH.exec(path);
    if (mediaPath && (method === 'GET' || method === 'HEAD')) return serveMedia(mediaPath[1]!, req, res, method);
    if (path === '/console/config.json') return sendJson(res, 200, await consoleConfig(req));
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      try {
        await db.ping();
        if (!(await db.migrationsApplied())) return sendJson(res, 503, { status: 'migrations pending' });
        if (!(await bus.ping())) return sendJson(res, 503, { status: 'redis unreachable' });
        return sendJson(res, 200, {
          status: 'ready',
          database: db.driver,
          ...(config.redisUrl ? { redis: 'ok' } : {}),
        });
      } catch {
        return sendJson(res, 503, { status: 'database unreachable' });
      }
    }
    if ((method === 'GET' || method === 'HEAD') && (await serveStatic(webRoot, path, res, method))) return;
    sendJson(res, 404, { error: 'not found' });
  }

  /**
   * Prometheus scrapes. With METRICS_TOKEN, only a bearer of the token; without, only this machine
   * (the public port must not tell strangers how many tasks and jobs there are).
   */
  async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = config.metrics.token;
    const allowed = token ? bearerMatches(req.headers.authorization, token) : isLoopback(req.socket.remoteAddress);
    if (!allowed) {
      return sendJson(
        res,
        token ? 401 : 403,
        { error: token ? 'send Authorization: Bearer <METRICS_TOKEN>' : 'metrics are served to loopback only' },
        token ? { 'www-authenticate': 'Bearer' } : {},
      );
    }
    await refreshGauges();
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(await metrics.registry.metrics());
  }
  const metricsServer =
    config.metrics.port === undefined
      ? undefined
      : createServer((req, res) => {
          const path = new URL(req.url ?? '/', 'http://localhost').pathname;
          const reply =
            path === '/metrics' && req.method === 'GET'
              ? serveMetrics(req, res)
              : Promise.resolve(sendJson(res, 404, { error: 'not found' }));
          reply.catch((err: unknown) => {
            log.error({ err }, 'metrics scrape failed');
            if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
          });
        });

  /** Gauges read from the database at scrape time: every process reports the shared totals. */
  async function refreshGauges(): Promise<void> {
    metrics.tasks.reset();
    for (const row of await countTasksByStatus(db.db))
      metrics.tasks.set({ status: row.status, provider: row.provider }, row.n);
    metrics.jobQueueDepth.reset();
    metrics.jobQueueAge.reset();
    for (const q of await jobs.depth()) {
      metrics.jobQueueDepth.set({ queue: q.queue }, q.depth);
      metrics.jobQueueAge.set({ queue: q.queue }, q.oldestSeconds);
    }
  }

  /** Stored inputs, for providers that only take URLs: the link is signed and expires. */
  async function serveMedia(id: string, req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const verdict = media.verify(id, query.get('exp'), query.get('sig'));
    if (verdict !== 'ok') return sendJson(res, 403, { error: verdict === 'expired' ? 'link expired' : 'invalid link' });
    const object = await media.get(id);
    if (!object) return sendJson(res, 404, { error: 'not found' });
    res.writeHead(200, {
      'content-type': object.mime,
      'content-length': object.sizeBytes,
      'cache-control': 'private, max-age=3600',
      'x-content-type-options': 'nosniff',
    });
    res.end(method === 'HEAD' ? undefined : object.bytes);
  }

  /**
   * What the console needs before sign-in. The sandbox key is handed out only in sandbox mode and
   * only to a browser on this machine: it is the key printed at first start, nothing more.
   */
  async function consoleConfig(req: IncomingMessage): Promise<Record<string, unknown>> {
    const mode = isSandbox(config) ? 'SANDBOX' : 'LIVE';
    if (mode !== 'SANDBOX' || !isLoopback(req.socket.remoteAddress)) return { mode };
    const key =
      sandboxApiKey ?? (await readFile(join(config.dataDir, SANDBOX_KEY_FILE), 'utf8').catch(() => '')).trim();
    return key ? { mode, sandboxApiKey: key } : { mode };
  }

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

/** A bounded set of route names for metrics labels. */
function routeLabel(path: string): string {
  if (path === GRAPHQL_PATH || path === '/healthz' || path === '/readyz' || path === '/metrics') return path;
  if (path.startsWith('/callbacks/')) {
    const slug = path.split('/')[2] ?? '';
    return providerForSlug(slug) ? `/callbacks/${slug}` : '/callbacks/other';
  }
  if (path.startsWith('/media/')) return '/media';
  return 'static';
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** A request refused before GraphQL ran, answered as yoga answers one (status and headers from the error). */
function sendGraphQLError(res: ServerResponse, error: GraphQLError): void {
  const http = (error.extensions.http ?? {}) as { status?: number; headers?: Record<string, string> };
  const { http: _http, ...extensions } = error.extensions;
  sendJson(res, http.status ?? 400, { errors: [{ message: error.message, extensions }] }, http.headers ?? {});
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return header !== undefined && timingSafeEqual(digest(header), digest(`Bearer ${token}`));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
