import { sendJson } from '@clipwire/providers';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { UUID_PATTERN } from '@clipwire/schema';
import { webRoot } from '@clipwire/web';
import type { Admit } from '../auth/admission.js';
import { keyPrefix } from '../auth/api-keys.js';
import { SANDBOX_KEY_FILE } from '../auth/bootstrap.js';
import { type Config, isSandbox } from '../config.js';
import type { DatabaseHandle } from '../db/client.js';
import { schemaSdl } from '../graphql/schema.js';
import { GraphQLError } from 'graphql';
import type { Principal } from '../auth/api-keys.js';
import type { BodyLimits } from '../graphql/body-limit.js';
import { GRAPHQL_PATH, type Yoga } from '../graphql/yoga.js';
import type { MediaLifecycle } from '../media/lifecycle.js';
import { isMultipart, type ParsedMultipart, parseMultipart } from './multipart.js';
import type { Logger } from '../logger.js';
import type { MediaStore } from '../media/store.js';
import type { OutputLinks } from '../outputs/links.js';
import { serveArchivedOutput } from '../outputs/route.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Metrics } from '../metrics.js';
import { providerForSlug } from '../providers/registry.js';
import type { PubSubHandle } from '../pubsub.js';
import { MAX_CALLBACK_BYTES, type TaskService } from '../tasks/service.js';
import { BodyTooLargeError, readBody } from './body.js';
import { serveMedia } from './media.js';
import type { RequestHandler } from './metrics.js';
import { isLoopback, sendGraphQLError } from './respond.js';
import { serveStatic } from './static.js';
import { serveUsageCsv, USAGE_CSV_PATH } from './usage-csv.js';

/** As useCSRFPrevention in yoga.ts: a multipart request must carry one of these. */
const PREFLIGHT_HEADERS = ['graphql-preflight', 'apollo-require-preflight', 'x-graphql-csrf'];
const MEDIA_PATH = new RegExp(`^/media/(${UUID_PATTERN})$`);

export interface RouterOptions {
  config: Config;
  log: Logger;
  metrics: Metrics;
  yoga: Yoga;
  /** The GraphQL endpoint's body limits (multipart uploads are parsed here, before yoga). */
  bodyLimits: BodyLimits;
  admit: Admit;
  tasks: TaskService;
  media: MediaStore;
  objects: ObjectStore;
  lifecycle: MediaLifecycle;
  outputLinks: OutputLinks;
  db: DatabaseHandle;
  bus: PubSubHandle;
  /** Set on the first sandbox start: the key of the bootstrap tenant. */
  sandboxApiKey: string | null;
  /** GET /metrics on the public port, when there is no METRICS_PORT. */
  serveMetrics: RequestHandler;
}

/**
 * Every HTTP route on the public port: metrics (without METRICS_PORT), GraphQL, provider callbacks,
 * signed media links, the console's config, health and the console's static files.
 */
export function createRouter(options: RouterOptions): RequestListener {
  const { config, log, metrics, yoga, admit, tasks, db, bus } = options;

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
      if (routeName !== '/healthz' && routeName !== '/metrics' && log.isLevelEnabled('info')) {
        // The key's shown prefix, never the key: which client it was, as `keys list` names it.
        const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
        const key = bearer ? keyPrefix(bearer) : null;
        log.info(
          {
            requestId,
            method,
            route: routeName,
            status: res.statusCode,
            ms: Math.round(seconds * 1000),
            ...(key ? { keyPrefix: key } : {}),
          },
          'request',
        );
      }
    });
    if (path === '/metrics' && method === 'GET' && config.metrics.port === undefined)
      return options.serveMetrics(req, res);
    if (path === GRAPHQL_PATH) {
      if (method !== 'POST') return yoga.handle(req, res, { req, res, requestId });
      // Credentials and the rate limit are checked before a byte of the body is read or parsed.
      const admission = await admit(req.headers.authorization);
      if ('refusal' in admission) return sendGraphQLError(res, admission.refusal);
      const context = { req, res, principal: admission.principal, requestId };
      // Uploads stream to the object store as they arrive; without a preflight header yoga refuses (CSRF).
      if (isMultipart(req) && hasPreflightHeader(req)) return serveUpload(options, context);
      return yoga.handle(req, res, context);
    }
    if (path === '/schema.graphql' && (method === 'GET' || method === 'HEAD')) {
      // The SDL for codegen, in every mode (introspection is off in production), to a valid key.
      const admission = await admit(req.headers.authorization);
      if ('refusal' in admission) return sendGraphQLError(res, admission.refusal);
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(schemaSdl),
      });
      return void res.end(method === 'HEAD' ? undefined : schemaSdl);
    }
    if (path === USAGE_CSV_PATH && method === 'GET') {
      const admission = await admit(req.headers.authorization);
      if ('refusal' in admission) return sendGraphQLError(res, admission.refusal);
      return serveUsageCsv(db, admission.principal, req, res);
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
    if (mediaPath && (method === 'GET' || method === 'HEAD'))
      return serveMedia(options.media, mediaPath[1]!, req, res, method);
    if (path.startsWith('/outputs/') && (method === 'GET' || method === 'HEAD'))
      return serveArchivedOutput(options.objects, options.outputLinks, path, req, res);
    if (path === '/console/config.json')
      return sendJson(res, 200, await consoleConfig(config, options.sandboxApiKey, req));
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

  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      log.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };
}

/**
 * A multipart GraphQL request: its files streamed into the object store, then the operation run by
 * yoga. Afterwards every stored file no media row names (a refused or failed create) is deleted.
 */
async function serveUpload(
  options: RouterOptions,
  context: { req: IncomingMessage; res: ServerResponse; principal: Principal; requestId: string },
): Promise<void> {
  const { req, res } = context;
  let parsed: ParsedMultipart;
  try {
    parsed = await parseMultipart(req, {
      objects: options.objects,
      tenantId: context.principal.tenantId,
      limits: options.bodyLimits,
    });
  } catch (error) {
    if (!(error instanceof GraphQLError)) {
      if (!res.headersSent) res.destroy(); // the client went away mid-upload
      return;
    }
    // The rest of the body is dropped; the connection closes after the answer.
    res.setHeader('connection', 'close');
    req.resume();
    return sendGraphQLError(res, error);
  }
  try {
    await options.yoga.handle(req, res, { ...context, uploaded: parsed.params });
  } finally {
    const keys = parsed.uploads.filter((u) => !u.tooLarge).map((u) => u.storageKey);
    await options.lifecycle.deleteUnreferenced(keys).catch((err: unknown) => {
      options.log.error({ err }, 'could not delete uploads of a request that created nothing');
    });
  }
}

function hasPreflightHeader(req: IncomingMessage): boolean {
  return PREFLIGHT_HEADERS.some((h) => req.headers[h] !== undefined);
}

/**
 * What the console needs before sign-in. The sandbox key is handed out only in sandbox mode and
 * only to a browser on this machine: it is the key printed at first start, nothing more.
 */
async function consoleConfig(
  config: Config,
  sandboxApiKey: string | null,
  req: IncomingMessage,
): Promise<Record<string, unknown>> {
  const mode = isSandbox(config) ? 'SANDBOX' : 'LIVE';
  if (mode !== 'SANDBOX' || !isLoopback(req.socket.remoteAddress)) return { mode };
  const key = sandboxApiKey ?? (await readFile(join(config.dataDir, SANDBOX_KEY_FILE), 'utf8').catch(() => '')).trim();
  return key ? { mode, sandboxApiKey: key } : { mode };
}

/** A bounded set of route names for metrics labels. */
function routeLabel(path: string): string {
  if (
    path === GRAPHQL_PATH ||
    path === '/healthz' ||
    path === '/readyz' ||
    path === '/metrics' ||
    path === '/schema.graphql' ||
    path === USAGE_CSV_PATH
  )
    return path;
  if (path.startsWith('/callbacks/')) {
    const slug = path.split('/')[2] ?? '';
    return providerForSlug(slug) ? `/callbacks/${slug}` : '/callbacks/other';
  }
  if (path.startsWith('/media/')) return '/media';
  if (path.startsWith('/outputs/')) return '/outputs';
  return 'static';
}
