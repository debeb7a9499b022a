import { defaultClientConditions, defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `vite` (dev) proxies the API; `vite build` writes dist/, which the API serves at `/`.
const api = process.env.CLIPWIRE_API_URL ?? 'http://127.0.0.1:4000';

export default defineConfig({
  plugins: [react()],
  // The workspace packages' TypeScript sources (their `source` export condition), not their dist/.
  resolve: { conditions: ['source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/graphql': { target: api, ws: true, changeOrigin: true },
      '/console': { target: api, changeOrigin: true },
      '/media': { target: api, changeOrigin: true },
    },
  },
});
