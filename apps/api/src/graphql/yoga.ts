import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionArgs, execute, getOperationAST } from 'graphql';
import { createYoga, type GraphQLParams, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Admit } from '../auth/admission.js';
import type { ApiKeyAuthenticator, Principal } from '../auth/api-keys.js';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/client.js';
import { MB } from '../media/limits.js';
import type { SafeAgent } from '../media/safe-fetch.js';
import type { Metrics } from '../metrics.js';
import { armorPlugins } from './armor.js';
import { renderGraphiQL } from './graphiql.js';
import { type BodyLimits, useRequestBodyLimit } from './body-limit.js';
import { type ClientErrorPolicy, clientErrorPolicy } from './client-errors.js';
import type { GraphQLContext } from './context.js';
import { useInputLimits } from './input-limits.js';
import { schema } from './schema.js';

export const GRAPHQL_PATH = '/graphql';
/**
 * The GraphQL endpoint's body limits, sized to the largest legitimate request of each kind:
 * - JSON: an image and an audio inline as base64 at KIE's 10 MB maxima (2 × 13.4 MiB) and the rest
 *   of the request; larger media (videos up to 100 MB) go as a URL or a multipart upload. A create
 *   holds fewer than a hundred JSON values: 10,000 leaves room and bounds what JSON.parse may cost.
 * - multipart: one file at the largest documented maximum (a 100 MB video) and the rest. Uploads are
 *   parsed by the router (http/multipart.ts: total, fields and file count from here; each file at most
 *   MAX_UPLOAD_BYTES, streamed to the store); `fileBytes` bounds only yoga's own parser, which a
 *   multipart request reaches only without a preflight header, to be refused (CSRF) unread.
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

/** What the HTTP router (or the WebSocket server) hands yoga: a principal already admitted, if any. */
export interface ServerContext {
  req?: IncomingMessage;
  res?: ServerResponse;
  principal?: Principal;
  /** The request's id (x-request-id), for the operation's log lines. */
  requestId?: string;
  /**
   * A multipart request already parsed by the router, its files streamed into the object store
   * (http/multipart.ts): the operation to run, in place of the body (which has been read).
   */
  uploaded?: GraphQLParams;
}
export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

/** The services every operation's context is made of. */
export type ContextServices = Pick<
  GraphQLContext,
  'pubsub' | 'feeds' | 'tasks' | 'adapters' | 'health' | 'webhooks' | 'log' | 'mediaLink'
> & {
  db: DatabaseHandle;
  /** The SSRF-safe dispatcher URL media are probed through. */
  safeDispatcher: SafeAgent;
  authenticator: Pick<ApiKeyAuthenticator, 'forgetTenant'>;
};

/** One operation's context, over HTTP and WebSocket alike, for an admitted principal. */
export function createContext(services: ContextServices, principal: Principal, requestId?: string): GraphQLContext {
  const { db, webhooks } = services;
  return {
    db: db.db,
    asTenant: (fn) => (principal.scope === 'admin' ? fn(db.db) : db.asTenant(principal.tenantId, fn)),
    principal,
    pubsub: services.pubsub,
    feeds: services.feeds,
    tasks: services.tasks,
    adapters: services.adapters,
    health: services.health,
    webhooks,
    intake: {
      dispatcher: services.safeDispatcher,
      fetchTimeoutMs: 20_000,
      checkWebhookUrl: (u) => webhooks.checkUrl(u),
      providerMode: (provider, kind) => services.adapters.get(provider, kind)?.mode,
      defaultRoute: (kind) => principal.defaultRoutes?.[kind],
    },
    // Every line an operation logs says whose it is and, over HTTP, which request it came from.
    log: services.log.child({ tenant: principal.tenantId, ...(requestId ? { requestId } : {}) }),
    mediaLink: services.mediaLink,
    forgetTenantKeys: () => services.authenticator.forgetTenant(principal.tenantId),
  };
}

export interface GraphQLServerOptions {
  config: Config;
  services: ContextServices;
  metrics: Metrics;
  admit: Admit;
  /** Lowers the JSON and multipart body limits (tests). */
  maxBodyBytes?: number;
}

/** Yoga with its plugins, and the error policy the WebSocket side shares. */
export function createGraphQLServer(options: GraphQLServerOptions): {
  yoga: Yoga;
  errors: ClientErrorPolicy;
  bodyLimits: BodyLimits;
} {
  const { config, services, metrics, admit } = options;
  const { log } = services;
  const errors = clientErrorPolicy({
    production: config.env === 'production',
    onMasked: (err) => log.error({ err }, 'graphql error'),
  });
  const bodyLimits: BodyLimits = options.maxBodyBytes
    ? { ...GRAPHQL_BODY_LIMITS, jsonBytes: options.maxBodyBytes, multipartBytes: options.maxBodyBytes }
    : GRAPHQL_BODY_LIMITS;

  const yoga = createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // Checked by useRequestBodyLimit below instead (yoga's own check pipes every body through a stream).
    maxRequestBodySize: false,
    graphiql: config.env === 'production' ? false : { subscriptionsProtocol: 'WS' },
    renderGraphiQL,
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
      useTenantScopedQueries(services.db),
      useRequestBodyLimit(bodyLimits),
      useOperationMetrics(metrics),
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
      return createContext(services, principal, initial.requestId);
    },
  });
  return { yoga, errors, bodyLimits };
}

/** Subscriptions started, over SSE (the envelop) or WebSocket (SubscriptionDelivery). */
export function countSubscription(metrics: Metrics, args: Pick<ExecutionArgs, 'document' | 'operationName'>): void {
  const op = getOperationAST(args.document, args.operationName);
  metrics.graphqlOperations.inc({ type: 'subscription', name: op?.name?.value ?? 'anonymous', outcome: 'ok' });
}

/** Operations executed, by type, name and outcome; subscriptions when they start. */
function useOperationMetrics(metrics: Metrics): Plugin {
  return {
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
    onSubscribe: ({ args }) => countSubscription(metrics, args),
  };
}

/**
 * Query operations read as the caller's tenant (each statement in its own tenant-scoped
 * transaction, see asTenant), so on Postgres row-level security backs up every tenant filter in
 * the resolvers. (Mutations go through the task engine, which scopes by tenant in its queries;
 * subscriptions scope each read with ctx.asTenant.)
 */
function useTenantScopedQueries(db: DatabaseHandle): Plugin {
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
