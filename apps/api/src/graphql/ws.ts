import type { Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { AUTH_FAILURE_MESSAGES, type ApiKeyAuthenticator, type Principal, revokedKeyIds } from '../auth/api-keys.js';
import type { DbOrTx } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ClientErrorPolicy } from './client-errors.js';
import { checkVariables } from './input-limits.js';
import { type Delivery, SubscriptionDelivery } from './ws-delivery.js';
import { countSubscription, GRAPHQL_PATH, type Yoga } from './yoga.js';

/** Largest WebSocket frame accepted; a subscription document is far smaller. */
const WS_MAX_PAYLOAD = 256 * 1024;

export interface WebSocketOptions {
  /** The HTTP server whose upgrades to GRAPHQL_PATH become graphql-ws connections. */
  server: Server;
  yoga: Yoga;
  errors: ClientErrorPolicy;
  authenticator: ApiKeyAuthenticator;
  metrics: Metrics;
}

export interface GraphQLWebSocket {
  delivery: SubscriptionDelivery;
  /** Open authenticated sockets, so that a revoked key's sockets can be closed. */
  sockets: Map<WebSocket, Principal>;
  /** Closes every socket with 1001 Going Away, then the WebSocket server. */
  close(): Promise<void>;
}

/**
 * GraphQL over WebSocket (graphql-ws) on the HTTP server: the same envelop, context and error policy
 * as HTTP; subscriptions are delivered by SubscriptionDelivery.
 */
export function createGraphQLWebSocket(options: WebSocketOptions): GraphQLWebSocket {
  const { yoga, errors, authenticator, metrics } = options;
  // Upgrades are handed over by hand (noServer) rather than by attaching to the HTTP server: attached,
  // ws would re-emit the server's own errors (a port in use at startup) as WebSocket server errors.
  const wss = new WebSocketServer({ noServer: true, path: GRAPHQL_PATH, maxPayload: WS_MAX_PAYLOAD });
  options.server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  );
  const delivery = new SubscriptionDelivery(errors.mask);
  const wsOperations = new WeakMap<
    ExecutionArgs,
    { execute: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult; delivery: Delivery }
  >();
  type WsExtra = { principal?: Principal; socket: WebSocket };
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
        countSubscription(metrics, args);
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
  return {
    delivery,
    sockets,
    async close() {
      await wsServer.dispose(); // closes every socket with 1001 Going Away
      wss.close();
    },
  };
}

/**
 * Closes, within seconds, the sockets of keys revoked since they connected (4403).
 * Returns the function that stops the sweep.
 */
export function startRevocationSweep(sockets: Map<WebSocket, Principal>, db: DbOrTx, log: Logger): () => void {
  const revocationSweep = setInterval(() => {
    if (sockets.size === 0) return;
    const ids = [...new Set([...sockets.values()].map((p) => p.apiKeyId))];
    void revokedKeyIds(db, ids)
      .then((revoked) => {
        for (const [socket, principal] of sockets) {
          if (revoked.has(principal.apiKeyId)) socket.close(4403, 'API key revoked');
        }
      })
      .catch((err: unknown) => log.error({ err }, 'revocation sweep failed'));
  }, 2000);
  revocationSweep.unref();
  return () => clearInterval(revocationSweep);
}
