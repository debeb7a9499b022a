import { fileURLToPath } from 'node:url';

/** The folder the API serves at `/`: the console as built by `vite build` (run `pnpm --filter @clipwire/web build`). */
export const webRoot = fileURLToPath(new URL('./dist', import.meta.url));
