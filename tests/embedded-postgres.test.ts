import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { EmbeddedPostgresInUseError, startEmbeddedPostgres } from '../server/src/db/embedded';
import { ROOT } from './support/build';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-embedded-pg-'));
  // mkdtemp makes it 0700; as root, Postgres runs as the `postgres` user and must reach it.
  if (process.getuid?.() === 0) fs.chmodSync(dir, 0o777);
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  // As root the cluster belongs to `postgres`; root removes it regardless.
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function postmasterPid(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** Running (a zombie, which an orphaned postmaster becomes when nothing reaps it, is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc
  }
}

/**
 * Starts the embedded Postgres in another node process (the compiled module), as a second server would;
 * resolves once it serves, with its URL.
 */
async function startInChild(dataDir: string): Promise<{ proc: ChildProcess; url: string; exited: Promise<unknown> }> {
  const script = `
    const { startEmbeddedPostgres } = require('./dist/server/src/db/embedded.js');
    const logger = require('pino')({ level: 'silent' });
    startEmbeddedPostgres({ dataDir: process.argv[1], logger }).then((db) => {
      process.stdout.write('URL ' + db.url + '\\n');
      process.on('SIGTERM', () => db.stop().then(() => process.exit(0)));
    }, (err) => { process.stderr.write(String(err) + '\\n'); process.exit(1); });
  `;
  const proc = spawn(process.execPath, ['-e', script, dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const match = /URL (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    proc.on('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
  return { proc, url, exited };
}

describe('startEmbeddedPostgres', () => {
  it('serves queries on loopback and keeps its data between starts', async () => {
    const dataDir = tempDir();

    const first = await startEmbeddedPostgres({ dataDir, logger });
    try {
      expect(first.url).toBe(`postgres://postgres:postgres@127.0.0.1:${first.port}/switchboard`);
      expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
      expect(await query(first.url, 'select 1 as one')).toEqual([{ one: 1 }]);
      await query(first.url, 'create table kept (v int); insert into kept values (42)');
    } finally {
      await first.stop();
    }
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = await startEmbeddedPostgres({ dataDir, logger });
    try {
      expect(await query(second.url, 'select v from kept')).toEqual([{ v: 42 }]);
    } finally {
      await second.stop();
    }
  }, 60_000);

  it('creates a database by another name when asked', async () => {
    const dataDir = tempDir();
    const db = await startEmbeddedPostgres({ dataDir, logger, database: 'other_db' });
    try {
      expect(db.url.endsWith('/other_db')).toBe(true);
      expect(await query(db.url, 'select current_database() as name')).toEqual([{ name: 'other_db' }]);
    } finally {
      await db.stop();
    }
  }, 60_000);

  it('starts again after the postmaster was killed with SIGKILL', async () => {
    const dataDir = tempDir();
    const first = await startEmbeddedPostgres({ dataDir, logger });
    await query(first.url, 'create table kept (v int); insert into kept values (7)');

    const pid = postmasterPid(dataDir);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; alive(pid) && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
    // The stale pid file is what a crashed server leaves behind.
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(true);

    const second = await startEmbeddedPostgres({ dataDir, logger });
    try {
      expect(postmasterPid(dataDir)).not.toBe(pid);
      expect(await query(second.url, 'select v from kept')).toEqual([{ v: 7 }]);
      // stop() of the dead instance must not hang.
      await first.stop();
    } finally {
      await second.stop();
    }
  }, 60_000);

  it('refuses a second start on the same directory while the first runs, and leaves the first running', async () => {
    const dataDir = tempDir();
    const first = await startEmbeddedPostgres({ dataDir, logger });
    const pid = postmasterPid(dataDir);
    try {
      await expect(startEmbeddedPostgres({ dataDir, logger })).rejects.toThrow(EmbeddedPostgresInUseError);
      expect(alive(pid)).toBe(true);
      expect(await query(first.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      await first.stop();
    }
    // Once stopped, the directory is free again.
    const again = await startEmbeddedPostgres({ dataDir, logger });
    await again.stop();
  }, 60_000);

  it('refuses while another live process owns the directory, naming its pid', async () => {
    const dataDir = tempDir();
    const owner = await startInChild(dataDir);
    try {
      const refused = await startEmbeddedPostgres({ dataDir, logger }).then(
        async (db) => {
          await db.stop();
          return null;
        },
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(EmbeddedPostgresInUseError);
      expect((refused as Error).message).toContain(`pid ${owner.proc.pid}`);
      expect((refused as Error).message.split('\n')).toHaveLength(1);
      // The owner's database was not touched.
      expect(await query(owner.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      owner.proc.kill('SIGTERM');
      await owner.exited;
    }
  }, 60_000);

  it('takes over from a process killed with SIGKILL whose postmaster kept running', async () => {
    const dataDir = tempDir();
    const owner = await startInChild(dataDir);
    await query(owner.url, 'create table kept (v int); insert into kept values (9)');
    const leftover = postmasterPid(dataDir);
    owner.proc.kill('SIGKILL');
    await owner.exited;
    // kill -9 skips every shutdown hook: the postmaster survives its parent.
    expect(alive(leftover)).toBe(true);

    const next = await startEmbeddedPostgres({ dataDir, logger });
    try {
      expect(alive(leftover)).toBe(false);
      expect(await query(next.url, 'select v from kept')).toEqual([{ v: 9 }]);
    } finally {
      await next.stop();
    }
  }, 60_000);

  it('fails with the tail of the Postgres log when Postgres cannot start', async () => {
    const dataDir = tempDir();
    const db = await startEmbeddedPostgres({ dataDir, logger });
    await db.stop();
    fs.appendFileSync(path.join(dataDir, 'postgres', 'postgresql.conf'), '\nno_such_setting = 1\n');

    await expect(startEmbeddedPostgres({ dataDir, logger })).rejects.toThrow(/no_such_setting/);
  }, 60_000);
});
