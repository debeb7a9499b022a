import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DatabaseHandle } from '../db/client.js';
import { createGraphQLServer } from '../graphql/yoga.js';
import { createGraphQLWebSocket, startRevocationSweep } from '../graphql/ws.js';
import type { SubscriptionDelivery } from '../graphql/ws-delivery.js';
import { type AppOptions, composeServices, type Services } from '../server/compose.js';
import type { TenantFeeds } from '../tasks/feed.js';
import type { TaskService } from '../tasks/service.js';
import type { WebhookService } from '../webhooks/service.js';
import { createMetricsServer, metricsEndpoint } from './metrics.js';
import { createRouter } from './router.js';

export type { AppOptions } from '../server/compose.js';
export { GRAPHQL_BODY_LIMITS } from '../graphql/yoga.js';

export interface App {
  server: Server;
  /** The composed services (what each GraphQL operation's context is made of). */
  services: Services;
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
  let listeningUrl: string | undefined;
  const url = () => {
    if (!listeningUrl) throw new Error('the app is not listening yet');
    return listeningUrl;
  };
  const services = await composeServices(options, url);
  const { log, db, metrics, tasks } = services;

  const { yoga, errors, bodyLimits } = createGraphQLServer({
    config,
    services,
    metrics,
    admit: services.admit,
    maxBodyBytes: options.maxGraphQLBodyBytes,
  });
  const serveMetrics = metricsEndpoint({ config, metrics, db: db.db, jobs: services.jobs });
  const server = createServer(createRouter({ ...services, yoga, bodyLimits, serveMetrics }));
  const metricsServer = config.metrics.port === undefined ? undefined : createMetricsServer(serveMetrics, log);
  const ws = createGraphQLWebSocket({ server, yoga, errors, authenticator: services.authenticator, metrics });
  const stopRevocationSweep = startRevocationSweep(ws.sockets, db.db, log);

  return {
    server,
    services,
    feeds: services.feeds,
    delivery: ws.delivery,
    db,
    tasks,
    webhooks: services.webhooks,
    sandboxApiKey: services.sandboxApiKey,
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
      await services.startWork();
      log.info(
        {
          url: listeningUrl,
          database: db.driver,
          providers: services.adapters.list().map((a) => `${a.provider}:${a.kind}:${a.mode}`),
        },
        'clipwire api listening',
      );
      return listeningUrl;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      stopRevocationSweep();
      await services.stopWork();
      await ws.close();
      server.closeAllConnections();
      await closed;
      await services.close();
    },
  };
}
