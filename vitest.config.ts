import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// graphql 16 ships CJS (main) and ESM (module) builds. Node loads the CJS one for yoga and Pothos;
// Vite would pick the ESM one for our sources, and errors would then come from "another realm".
const graphqlEntry = createRequire(new URL('./apps/api/package.json', import.meta.url)).resolve('graphql');

/**
 * One run for the whole repo. Forks, two at a time: each test file boots its own PGlite (or its own
 * Postgres database when DATABASE_URL is set), and this machine has two cores.
 */
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlEntry }] },
  // The workspace packages' TypeScript sources (their `source` export condition), not their dist/.
  ssr: { resolve: { conditions: ['source', 'node', 'development|production'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.test-results.json' }]] : ['default'],
  },
});
