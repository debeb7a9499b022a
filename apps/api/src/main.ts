import { startSimulator, type Simulator } from '@clipwire/providers/simulator';
import { type Config, ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { buildApp } from './http/app.js';
import { createLogger } from './logger.js';
import { providerSettings, simulatorOptions } from './providers/registry.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger(config.logLevel);

  if (config.role === 'migrate') {
    // One-shot: apply the migrations (openDatabase does) and exit.
    const handle = await openDatabase(config.database);
    await handle.close();
    log.info({ database: handle.driver }, 'migrations applied');
    return;
  }

  // Sandbox by default: providers without credentials talk to the simulator, started here.
  let simulator: Simulator | undefined;
  const sandboxed = config.role === 'all' && providerSettings(config).some((p) => p.mode === 'SANDBOX' && !p.baseUrl);
  if (sandboxed) {
    // Callbacks signed as the providers sign them once signing is turned on, when it is configured here.
    simulator = await startSimulator({
      host: '127.0.0.1',
      port: config.simulator.port,
      ...simulatorOptions(config),
    }).catch((error: unknown) => portInUse(error, 'SIMULATOR_PORT'));
    log.info({ url: simulator.url }, 'provider sandbox simulator listening');
  }

  const app = await buildApp({ config, log, sandboxUrl: simulator?.url });
  const url = await app
    .start()
    .catch((error: unknown) =>
      portInUse(error, (error as { port?: number }).port === config.metrics.port ? 'METRICS_PORT' : 'PORT'),
    );
  process.stdout.write(`\n  Clipwire (${config.role}) is up: console ${url}/   GraphQL ${url}/graphql\n\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await app.stop();
    await simulator?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Said plainly, without a stack: what went wrong at startup and the setting that fixes it. */
class StartupError extends Error {}

/** A listen that failed on a port in use: which setting moves it. Anything else is rethrown as is. */
function portInUse(error: unknown, setting: string): never {
  const e = error as { code?: string; port?: number };
  if (e.code === 'EADDRINUSE') throw new StartupError(`port ${e.port} is in use: set ${setting} to a free port`);
  throw error;
}

main().catch((error: unknown) => {
  const detail =
    error instanceof StartupError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`clipwire failed to start: ${detail}\n`);
  process.exit(1);
});
