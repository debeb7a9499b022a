import { printSchema } from 'graphql';
import { builder } from './builder.js';
import './types/enums.js';
import './types/errors.js';
import './types/outputs.js';
import './types/route.js';
import './types/task.js';
import './types/input-media.js';
import './types/task-event.js';
import './types/media-input.js';
import './types/create-task.js';
import './types/provider-info.js';
import './types/task-actions.js';
import './types/webhook-settings.js';
import './types/webhook-delivery.js';
import './types/webhook-actions.js';
import './types/api-key.js';
import './types/task-updated.js';
import './types/task-events-feed.js';
import './types/quota.js';
import './types/usage.js';

export const schema = builder.toSchema({ sortSchema: false });

/** The SDL, as committed in apps/api/schema.graphql and served at GET /schema.graphql. */
export const schemaSdl = `${printSchema(schema)}\n`;
