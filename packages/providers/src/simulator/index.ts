import { Router, sendJson, startServer } from './server.js';
import { mountKlingAvatar, type KlingSimControls, type KlingSimOptions } from './kling-avatar.js';

export { mediaDir, fixturesDir } from './media.js';
export type { KlingSimControls, KlingSimCreateError, KlingSimOptions, KlingSimTiming, SentCallback } from './kling-avatar.js';
export { Router, startServer, sendJson, sendBytes, type SimHandler, type SimRequest, type RunningServer } from './server.js';

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  kling?: KlingSimOptions;
}

export interface Simulator {
  /** e.g. http://127.0.0.1:41234 — use as the Kling baseUrl. */
  url: string;
  port: number;
  /** Stops timers, waits for in-flight callbacks, closes the server and its sockets. */
  stop(): Promise<void>;
  kling: KlingSimControls;
}

/** Starts the provider sandbox over real HTTP (node:http) on loopback. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const router = new Router();
  let url = '';
  const kling = mountKlingAvatar(router, opts.kling ?? {}, () => url);
  // Kling answers unknown paths/methods with 404 and business code 1202.
  router.otherwise((_req, res) => sendJson(res, 404, { code: 1202, message: 'invalid request method or path', request_id: '' }));
  const server = await startServer(router, { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  url = server.url;
  return {
    url: server.url,
    port: server.port,
    kling: kling.controls,
    async stop() {
      await kling.stop();
      await server.stop();
    },
  };
}
