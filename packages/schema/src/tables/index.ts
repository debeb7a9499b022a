export { tenants, type TenantRow } from './tenants.js';
export { apiKeys, type ApiKeyRow } from './api-keys.js';
export { tasks, type TaskRow, type NewTaskRow } from './tasks.js';
export { taskEvents, type TaskEventRow } from './task-events.js';
export { mediaObjects, type MediaObjectRow } from './media-objects.js';
export { serverSecrets } from './server-secrets.js';
export { jobs, JOB_QUEUES, type JobQueue, type JobRow } from './jobs.js';
export { webhookSecrets, type WebhookSecretRow } from './webhook-secrets.js';
export { tenantLimits, type TenantLimitsRow } from './tenant-limits.js';
export { tenantRoutes, type TenantRouteRow } from './tenant-routes.js';
export {
  webhookDeliveries,
  WEBHOOK_DELIVERY_STATUSES,
  type WebhookDeliveryRow,
  type WebhookDeliveryStatus,
} from './webhook-deliveries.js';
export { webhookDeliveryAttempts, type WebhookDeliveryAttemptRow } from './webhook-delivery-attempts.js';
