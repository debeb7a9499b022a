import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics of one process, served at GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'clipwire_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'clipwire_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly graphqlOperations = new Counter({
    name: 'clipwire_graphql_operations_total',
    help: 'GraphQL operations by type, name and outcome',
    labelNames: ['type', 'name', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly openSubscriptions = new Gauge({
    name: 'clipwire_graphql_open_subscriptions',
    help: 'Open GraphQL subscriptions (WebSocket) in this process',
    registers: [this.registry],
  });
  readonly openSockets = new Gauge({
    name: 'clipwire_websocket_connections',
    help: 'Open authenticated WebSocket connections in this process',
    registers: [this.registry],
  });
  readonly tasks = new Gauge({
    name: 'clipwire_tasks',
    help: 'Tasks by status and provider (all tenants)',
    labelNames: ['status', 'provider'] as const,
    registers: [this.registry],
  });
  readonly providerCalls = new Histogram({
    name: 'clipwire_provider_call_duration_seconds',
    help: 'Provider API calls by provider and outcome',
    labelNames: ['provider', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly jobQueueDepth = new Gauge({
    name: 'clipwire_job_queue_depth',
    help: 'Jobs waiting or running, by queue',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  readonly jobQueueAge = new Gauge({
    name: 'clipwire_job_queue_oldest_seconds',
    help: 'Age of the oldest job, by queue',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'clipwire_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry, given_up)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'clipwire_' });
  }
}
