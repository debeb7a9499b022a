import { writeFileSync } from 'node:fs';
import { schemaSdl } from './graphql/schema.js';

/** Writes the SDL that is committed as apps/api/schema.graphql (a test fails when they differ). */
writeFileSync(new URL('../schema.graphql', import.meta.url), schemaSdl);
