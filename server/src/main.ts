import 'reflect-metadata';
import { ConfigError, loadConfig, type Config } from './config';
import type { Switchboard } from './app';
import { createLogger } from './observability/logger';

/**
 * A graceful stop waits up to SHUTDOWN_TIMEOUT_MS for requests in flight (the HTTP drain), then this long for
 * the rest (sockets, the hub, the database pool) before the process exits regardless. With the default 8 s
 * that is an exit within 10 s of SIGTERM.
 */
const EXIT_AFTER_DRAIN_MS = 1_500;

function fail(message: string): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const logger = createLogger(config.logLevel);

  // Signals are handled from the first moment: a SIGTERM during start-up stops what has started.
  let app: Switchboard | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('graceful shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + EXIT_AFTER_DRAIN_MS);
    deadline.unref();
    if (!app) return; // start-up notices `stopping` when it finishes
    app.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    // Loaded only once the configuration is known to be good: a typo in the environment is reported at once,
    // before the whole server (Apollo, MikroORM, the schema) is loaded.
    const { startSwitchboard } = require('./app') as typeof import('./app');
    app = await startSwitchboard(config, { logger });
  } catch (err) {
    // Start-up failures (database unreachable, port taken) are operator problems: one line, no stack.
    logger.debug({ err }, 'start-up failed');
    fail(`could not start: ${(err as Error).message.split('\n')[0]}`);
  }
  if (stopping) {
    await app.stop();
    process.exit(0);
  }

  logger.info({ url: app.url }, 'switchboard ready');
  if (process.stdout.isTTY || config.nodeEnv !== 'production') {
    process.stdout.write(`\nSwitchboard is ready: ${app.url} (GraphQL over HTTP and WebSocket${config.ide ? '; open it in a browser for the IDE' : ''})\n\n`);
  }

  // A bug in one request must not take the process down with every other request in flight.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
}

main().catch((err) => {
  process.stderr.write(`switchboard: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
