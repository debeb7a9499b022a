import { fileURLToPath } from 'node:url';

/** The folder the API serves at `/`. */
export const webRoot = fileURLToPath(new URL('./public', import.meta.url));
