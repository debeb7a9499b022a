import { warmDurations } from './durations.js';
import { readMedia } from './media.js';
import { Router, sendJson, startServer } from './server.js';
import { mountKling } from './kling/index.js';
import type { KlingSimControls, KlingSimOptions } from './kling/types.js';
import { mountKie } from './kie/index.js';
import type { KieSimControls, KieSimOptions } from './kie/types.js';
import { mountDigitalHuman } from './digital-human/index.js';
import { OutputLinks } from './output-links.js';
import type { DigitalHumanSimControls, DigitalHumanSimOptions } from './digital-human/types.js';

export { mediaDir, fixturesDir, readMedia as simulatorMediaBytes } from './media.js';
export type {
  KlingSimCapability,
  KlingSimControls,
  KlingSimCreateError,
  KlingSimOptions,
  KlingSimTiming,
} from './kling/types.js';
export type { KieSimControls, KieSimError, KieSimOptions, KieSimTiming } from './kie/types.js';
export type {
  DigitalHumanSimControls,
  DigitalHumanSimError,
  DigitalHumanSimOptions,
  DigitalHumanSimTiming,
} from './digital-human/types.js';
export type { SentCallback } from './callbacks.js';
export { fetchInput, type FetchInputOptions, type FetchedInput, type InputFetch } from './inputs.js';
export type {
  CallbackFaultControls,
  CallbackFaults,
  FaultControls,
  FaultRate,
  HttpFault,
  InjectedHttpStatus,
  RecordedRequest,
} from './faults.js';
export {
  Router,
  startServer,
  sendJson,
  sendBytes,
  type SimHandler,
  type SimRequest,
  type RunningServer,
} from './server.js';

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Each provider downloads its URL inputs (fetchInputs, default true): point them at loopback servers in tests. */
  kling?: KlingSimOptions;
  kie?: KieSimOptions;
  digitalHuman?: DigitalHumanSimOptions;
  /**
   * How long after a task finishes its output links keep working (every provider); after that they
   * answer 410 Gone, as a provider's deleted output does. Default: forever.
   */
  outputTtlSeconds?: number;
}

export interface Simulator {
  /**
   * e.g. http://127.0.0.1:41234 — the base URL for every provider: Kling (/v1/…), KIE market
   * (/api/v1/jobs/…) and KIE uploads (/api/file-…), and the reseller (/avatar/…).
   */
  url: string;
  port: number;
  /** Stops timers, waits for in-flight callbacks, closes the server and its sockets. */
  stop(): Promise<void>;
  kling: KlingSimControls;
  kie: KieSimControls;
  digitalHuman: DigitalHumanSimControls;
}

/** Starts the provider sandbox over real HTTP (node:http) on loopback. All providers share one server. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  await warmDurations(
    await Promise.all(['sound-sample.mp3', 'sound-sample.wav', 'avatar-sample.mp4'].map((f) => readMedia(f))),
  );
  const router = new Router();
  let url = '';
  const base = () => url;
  const links = new OutputLinks(opts.outputTtlSeconds === undefined ? undefined : opts.outputTtlSeconds * 1000);
  const kling = mountKling(router, opts.kling ?? {}, base, links);
  const kie = mountKie(router, opts.kie ?? {}, base, links);
  const digitalHuman = mountDigitalHuman(router, opts.digitalHuman ?? {}, base, links);
  // Unknown paths answer in the shape of the provider that owns the prefix.
  router.otherwise((req, res) => {
    const path = req.url.pathname;
    if (path.startsWith('/api/')) sendJson(res, 404, { code: 404, msg: 'Not Found', data: null });
    else if (path.startsWith('/avatar/'))
      sendJson(res, 404, { code: 'not_found', message: 'invalid path', data: null });
    // Kling answers unknown paths/methods with 404 and business code 1202.
    else sendJson(res, 404, { code: 1202, message: 'invalid request method or path', request_id: '' });
  });
  const server = await startServer(router, { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  url = server.url;
  return {
    url: server.url,
    port: server.port,
    kling: kling.controls,
    kie: kie.controls,
    digitalHuman: digitalHuman.controls,
    async stop() {
      await Promise.all([kling.stop(), kie.stop(), digitalHuman.stop()]);
      await server.stop();
    },
  };
}
