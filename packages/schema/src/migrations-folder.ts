import { fileURLToPath } from 'node:url';

/** Where drizzle-kit writes the migrations that both drivers apply at boot. */
export const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url));
