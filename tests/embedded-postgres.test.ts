import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../server/src/db/embedded';

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
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

  it('stops a postmaster left running on the same directory', async () => {
    const dataDir = tempDir();
    const first = await startEmbeddedPostgres({ dataDir, logger });
    const pid = postmasterPid(dataDir);

    const second = await startEmbeddedPostgres({ dataDir, logger });
    try {
      expect(alive(pid)).toBe(false);
      expect(await query(second.url, 'select 1 as one')).toEqual([{ one: 1 }]);
      await first.stop();
    } finally {
      await second.stop();
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
