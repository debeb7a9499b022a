import { sendJson } from '@clipwire/providers';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { DbOrTx } from '../db/client.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { countTasksByStatus } from '../tasks/repository.js';
import { isLoopback } from './respond.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface MetricsEndpointOptions {
  config: Config;
  metrics: Metrics;
  db: DbOrTx;
  jobs: JobQueue;
}

/**
 * Prometheus scrapes. With METRICS_TOKEN, only a bearer of the token; without, only this machine
 * (the public port must not tell strangers how many tasks and jobs there are).
 */
export function metricsEndpoint({ config, metrics, db, jobs }: MetricsEndpointOptions): RequestHandler {
  /** Gauges read from the database at scrape time: every process reports the shared totals. */
  async function refreshGauges(): Promise<void> {
    metrics.tasks.reset();
    for (const row of await countTasksByStatus(db))
      metrics.tasks.set({ status: row.status, provider: row.provider }, row.n);
    metrics.jobQueueDepth.reset();
    metrics.jobQueueAge.reset();
    for (const q of await jobs.depth()) {
      metrics.jobQueueDepth.set({ queue: q.queue }, q.depth);
      metrics.jobQueueAge.set({ queue: q.queue }, q.oldestSeconds);
    }
  }

  return async (req, res) => {
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
  };
}

/** The separate metrics listener (METRICS_PORT): GET /metrics and nothing else. */
export function createMetricsServer(serveMetrics: RequestHandler, log: Logger): Server {
  return createServer((req, res) => {
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
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return header !== undefined && timingSafeEqual(digest(header), digest(`Bearer ${token}`));
}
