import { startSimulator } from './index.js';

/**
 * The sandbox simulator as its own process, for deployments where several Clipwire processes must
 * share one sandbox (docker-compose). SIMULATOR_HOST / SIMULATOR_PORT; default 0.0.0.0:4010;
 * SIMULATOR_OUTPUT_TTL_S: how long output links work after their task finished (default: forever).
 */
const ttl = Number(process.env.SIMULATOR_OUTPUT_TTL_S ?? '');
const simulator = await startSimulator({
  host: process.env.SIMULATOR_HOST ?? '0.0.0.0',
  port: Number(process.env.SIMULATOR_PORT ?? 4010),
  kling: {},
  kie: {},
  digitalHuman: {},
  ...(Number.isInteger(ttl) && ttl > 0 ? { outputTtlSeconds: ttl } : {}),
});
process.stdout.write(`provider sandbox simulator listening on ${simulator.url}\n`);
const stop = () => void simulator.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
