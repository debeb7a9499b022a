import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { UUID_PATTERN } from '@clipwire/schema';
import { webRoot } from '@clipwire/web';
import { execute, getOperationAST, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type Plugin } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Dispatcher } from 'undici';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ApiKeyAuthenticator,
  AUTH_FAILURE_MESSAGES,
  revokedKeyIds,
  type AuthFailure,
  type Principal,
} from '../auth/api-keys.js';
import { KeyRateLimiter } from '../auth/rate-limit.js';
import { bootstrapSandboxTenant, SANDBOX_KEY_FILE } from '../auth/bootstrap.js';
import { isSandbox, type Config } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/client.js';
import type { GraphQLContext } from '../graphql/context.js';
import { armorPlugins } from '../graphql/armor.js';
import { useRequestBodyLimit, type BodyLimits } from '../graphql/body-limit.js';
import { clientErrorPolicy } from '../graphql/client-errors.js';
import { checkVariables, useInputLimits } from '../graphql/input-limits.js';
import { SubscriptionDelivery, type Delivery } from '../graphql/ws-delivery.js';
import { schema } from '../graphql/schema.js';
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
import { MB } from '../media/limits.js';
import { serveStatic } from './static.js';

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

const GRAPHQL_PATH = '/graphql';
const MEDIA_PATH = new RegExp(`^/media/(${UUID_PATTERN})$`);
/**
 * The GraphQL endpoint's body limits, sized to the largest legitimate request of each kind:
 * - JSON: an image and an audio inline as base64 at KIE's 10 MB maxima (2 × 13.4 MiB) and the rest
 *   of the request; larger media (videos up to 100 MB) go as a URL or a multipart upload. A create
 *   holds fewer than a hundred JSON values: 10,000 leaves room and bounds what JSON.parse may cost.
 * - multipart: one file at the largest documented maximum (a 100 MB video) and the rest; each file
 *   up to 101 MiB, so that the media checks, not the parser, say which field is over its limit.
 */
export const GRAPHQL_BODY_LIMITS: BodyLimits = {
  jsonBytes: 32 * MB,
  jsonValues: 10_000,
  jsonDepth: 32,
  multipartBytes: 110 * MB,
  fileBytes: 101 * MB,
  fieldBytes: 1 * MB,
  files: 4,
};
/** Largest WebSocket frame accepted; a subscription document is far smaller. */
const WS_MAX_PAYLOAD = 256 * 1024;

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

  /** Subscriptions started, over SSE (the envelop) or WebSocket (SubscriptionDelivery). */
  function countSubscription(args: Pick<ExecutionArgs, 'document' | 'operationName'>): void {
    const op = getOperationAST(args.document, args.operationName);
    metrics.graphqlOperations.inc({ type: 'subscription', name: op?.name?.value ?? 'anonymous', outcome: 'ok' });
  }

  const errors = clientErrorPolicy({
    production: config.env === 'production',
    onMasked: (err) => log.error({ err }, 'graphql error'),
  });
  const bodyLimits: BodyLimits = options.maxGraphQLBodyBytes
    ? { ...GRAPHQL_BODY_LIMITS, jsonBytes: options.maxGraphQLBodyBytes, multipartBytes: options.maxGraphQLBodyBytes }
    : GRAPHQL_BODY_LIMITS;

  /** Who is calling, and whether they may now: a principal, or the refusal to send. */
  async function admit(authorization: unknown): Promise<{ principal: Principal } | { refusal: GraphQLError }> {
    const outcome = await authenticator.authenticate(authorization);
    if ('failure' in outcome) return { refusal: unauthenticated(outcome.failure) };
    const waitMs = await rateLimiter.take(outcome.apiKeyId);
    if (waitMs !== null) {
      return {
        refusal: new GraphQLError('too many requests for this API key', {
          extensions: {
            code: 'RATE_LIMITED',
            http: { status: 429, headers: { 'retry-after': String(Math.ceil(waitMs / 1000)) } },
          },
        }),
      };
    }
    return { principal: outcome };
  }

  const yoga = createYoga<{ req?: IncomingMessage; res?: ServerResponse; principal?: Principal }, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // Checked by useRequestBodyLimit below instead (yoga's own check pipes every body through a stream).
    maxRequestBodySize: false,
    graphiql: config.env === 'production' ? false : { subscriptionsProtocol: 'WS' },
    maskedErrors: errors.maskedErrors,
    batching: false,
    plugins: [
      useInputLimits(),
      ...armorPlugins(config.env === 'production'),
      errors.plugin,
      useGraphQLJsExecute(),
      // A cross-site form or GET cannot be a GraphQL request: JSON bodies preflight by themselves;
      // multipart uploads and GETs must carry one of these headers.
      useCSRFPrevention({ requestHeaders: ['graphql-preflight', 'apollo-require-preflight', 'x-graphql-csrf'] }),
      useTenantScopedQueries(),
      useRequestBodyLimit(bodyLimits),
      {
        onExecute: ({ args }) => ({
          onExecuteDone: ({ result }) => {
            const op = getOperationAST(args.document, args.operationName);
            const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
            metrics.graphqlOperations.inc({
              type: op?.operation ?? 'unknown',
              name: op?.name?.value ?? 'anonymous',
              outcome: failed ? 'error' : 'ok',
            });
          },
        }),
        onSubscribe: ({ args }) => countSubscription(args),
      } satisfies Plugin,
    ],
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      error: (...args) => log.error({ err: args[0] }, 'graphql error'),
    },
    // POST requests (and WebSocket operations) are admitted before their body is read; a GET here.
    context: async (initial): Promise<GraphQLContext> => {
      let principal = initial.principal;
      if (!principal) {
        const admission = await admit(initial.request?.headers.get('authorization') ?? undefined);
        if ('refusal' in admission) throw admission.refusal;
        principal = admission.principal;
      }
      return {
        db: db.db,
        asTenant: (fn) => (principal.scope === 'admin' ? fn(db.db) : db.asTenant(principal.tenantId, fn)),
        principal,
        pubsub,
        feeds,
        tasks,
        adapters,
        health,
        webhooks,
        intake: { dispatcher: safeDispatcher, fetchTimeoutMs: 20_000, checkWebhookUrl: (u) => webhooks.checkUrl(u) },
        log,
      };
    },
  });

  /**
   * Query operations read as the caller's tenant (each statement in its own tenant-scoped
   * transaction, see asTenant), so on Postgres row-level security backs up every tenant filter in
   * the resolvers. (Mutations go through the task engine, which scopes by tenant in its queries;
   * subscriptions scope each read with ctx.asTenant.)
   */
  function useTenantScopedQueries(): Plugin {
    return {
      onExecute({ args, setExecuteFn, executeFn }) {
        const ctx = args.contextValue as unknown as GraphQLContext;
        if (!db.rowLevelSecurity || ctx.principal.scope === 'admin') return;
        if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
        setExecuteFn((execArgs) =>
          ctx.asTenant((tx) => Promise.resolve(executeFn({ ...execArgs, contextValue: { ...ctx, db: tx } }))),
        );
      },
    };
  }

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

  const wss = new WebSocketServer({ server, path: GRAPHQL_PATH, maxPayload: WS_MAX_PAYLOAD });
  const delivery = new SubscriptionDelivery(errors.mask);
  const wsOperations = new WeakMap<
    ExecutionArgs,
    { execute: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult; delivery: Delivery }
  >();
  type WsExtra = { principal?: Principal; socket: WebSocket };
  /** Open authenticated sockets, so that a revoked key's sockets can be closed. */
  const sockets = new Map<WebSocket, Principal>();
  const wsServer = useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      connectionInitWaitTimeout: 3000, // no connection_init in time: closed with 4408
      onConnect: async (ctx) => {
        const principal = await authenticator.authenticate(ctx.connectionParams?.authorization);
        if ('failure' in principal) {
          // Closed here with the reason; graphql-ws's own close (4403 "Forbidden") then finds it closing.
          ctx.extra.socket.close(4403, AUTH_FAILURE_MESSAGES[principal.failure]);
          return false;
        }
        ctx.extra.principal = principal;
        sockets.set(ctx.extra.socket, principal);
        metrics.openSockets.inc();
        return true;
      },
      onClose: (ctx) => {
        if (sockets.delete(ctx.extra.socket)) metrics.openSockets.dec();
      },
      onComplete: () => {
        metrics.openSubscriptions.dec();
      },
      onOperation: () => {
        metrics.openSubscriptions.inc();
      },
      onSubscribe: async (ctx, id, payload) => {
        const principal = ctx.extra.principal;
        if (!principal) return [new GraphQLError('not authenticated')];
        const tooBig = checkVariables(payload.variables);
        if (tooBig) return [tooBig];
        try {
          const enveloped = yoga.getEnveloped({ principal, params: payload });
          // The same envelop as HTTP: parse (token limit) and validate (depth, aliases, cost…).
          // graphql-ws skips validation when onSubscribe returns execution args, so it is done here.
          const document = enveloped.parse(payload.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors;
          const args: ExecutionArgs = {
            schema: enveloped.schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await enveloped.contextFactory(),
          };
          const shareKey = JSON.stringify([
            principal.apiKeyId,
            payload.operationName ?? null,
            payload.query,
            payload.variables ?? null,
          ]);
          wsOperations.set(args, { execute: enveloped.execute, delivery: { socket: ctx.extra.socket, id, shareKey } });
          return args;
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
      },
      // Queries and mutations over the socket run through the envelop; subscriptions are delivered
      // by SubscriptionDelivery (executed once per event and distinct subscription).
      execute: (args) => wsOperations.get(args)!.execute(args),
      subscribe: (args) => {
        countSubscription(args);
        return delivery.subscribe(args, wsOperations.get(args)!.delivery);
      },
      // What graphql-ws itself sends (results of queries, mutations and refused subscriptions; errors)
      // passes the same error policy as HTTP.
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => errors.mask(e).toJSON()) } : undefined,
      onError: (_ctx, _id, _payload, errs) => errs.map((e) => errors.mask(e).toJSON()),
    },
    wss,
  );

  /** Closes, within seconds, the sockets of keys revoked since they connected (4403). */
  const revocationSweep = setInterval(() => {
    if (sockets.size === 0) return;
    const ids = [...new Set([...sockets.values()].map((p) => p.apiKeyId))];
    void revokedKeyIds(db.db, ids)
      .then((revoked) => {
        for (const [socket, principal] of sockets) {
          if (revoked.has(principal.apiKeyId)) socket.close(4403, 'API key revoked');
        }
      })
      .catch((err: unknown) => log.error({ err }, 'revocation sweep failed'));
  }, 2000);
  revocationSweep.unref();

  return {
    server,
    feeds,
    delivery,
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
      clearInterval(revocationSweep);
      if (config.role !== 'api') await Promise.all(workers.map((w) => w.stop())); // finish the jobs in hand, release the rest
      await unlisten?.();
      await wsServer.dispose(); // closes every socket with 1001 Going Away
      wss.close();
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

/** Refused credentials: 401 with the expected form, in GraphQL's error shape. */
function unauthenticated(failure: AuthFailure): GraphQLError {
  return new GraphQLError(AUTH_FAILURE_MESSAGES[failure], {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } },
  });
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

/**
 * Queries and mutations execute on graphql-js's `execute`, as subscription events already do in
 * SubscriptionDelivery, instead of yoga's default @graphql-tools/executor: the same result for the
 * operations this schema has (no @defer/@stream), with fewer promise wrappers per field. Measured on
 * S5 over PostgreSQL, alternating both engines on one machine state: 0.27–0.30 → 0.31–0.33 of the raw
 * SELECT's throughput.
 */
function useGraphQLJsExecute(): Plugin {
  return { onExecute: ({ setExecuteFn }) => setExecuteFn(execute) };
}
