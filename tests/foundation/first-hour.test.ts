import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/build';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { spawnServer, waitForReady } from '../support/process';

/** A newcomer's first hour, as processes: a second start, a migrate beside a running server, a taken port. */
const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-first-hour-'));
  fs.chmodSync(dir, 0o777); // as root, Postgres runs as the postgres user
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end with only the given environment (and PATH). */
function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  const started = Date.now();
  const proc = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr, ms: Date.now() - started })));
}

const migrate = (env: Record<string, string>) =>
  run(process.execPath, [path.join(ROOT, 'dist/server/src/db/migrate-cli.js')], { LOG_LEVEL: 'warn', ...env });

async function answers(url: string): Promise<boolean> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
  return res.status === 200 && JSON.stringify(await res.json()) === '{"data":{"__typename":"Query"}}';
}

const NO_STACK = /\n\s+at .+:\d+/;

describe('the embedded Postgres has one owner', () => {
  it('a second start and a migrate on the same DATA_DIR refuse in one line, and the first server keeps working', async () => {
    const dataDir = tempDir();
    const first = spawnServer({ PORT: '0', DATA_DIR: dataDir, SEED_DEMO: 'false' });
    try {
      const url = await waitForReady(first, 90_000);

      const second = spawnServer({ PORT: '0', DATA_DIR: dataDir, SEED_DEMO: 'false' });
      expect(await second.exited).toBe(1);
      expect(second.stderr()).toMatch(
        new RegExp(`^switchboard: could not start: the embedded Postgres in \\S+ is in use by another Switchboard process \\(pid ${first.proc.pid}\\);.*\\n$`),
      );

      const migration = await migrate({ DATA_DIR: dataDir });
      expect(migration.code).toBe(1);
      expect(migration.stderr).toMatch(new RegExp(`^migrate: the embedded Postgres in \\S+ is in use by another Switchboard process \\(pid ${first.proc.pid}\\);.*\\n$`));

      // Before: the second process stopped the first one's postmaster, which then failed every query.
      expect(await answers(url)).toBe(true);
      const ready = await fetch(url.replace(/\/graphql$/, '/readyz'));
      expect(ready.status).toBe(200);
    } finally {
      first.proc.kill('SIGTERM');
      expect(await first.exited).toBe(0);
    }

    // Once the server is gone, migrate owns the directory and exits 0 (before: 1, "done is not a function").
    const alone = await migrate({ DATA_DIR: dataDir });
    expect(alone.stderr).toBe('');
    expect(alone.stdout).toContain('database is up to date');
    expect(alone.code).toBe(0);
  }, 240_000);

  it('npm run migrate on a fresh embedded Postgres applies the migrations and exits 0', async () => {
    const migration = await migrate({ DATA_DIR: tempDir() });
    expect(migration.stderr).not.toMatch(/TypeError|done is not a function/);
    expect(migration.stdout).toMatch(/^applied: Migration\d+/m);
    expect(migration.code).toBe(0);
  }, 120_000);
});

describe('a port already in use', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('stops the second server with one line naming the port, and no stack trace', async () => {
    const first = spawnServer({ PORT: '0', DATABASE_URL: db.url, SEED_DEMO: 'false' });
    try {
      const url = await waitForReady(first, 90_000);
      const port = new URL(url).port;
      const second = spawnServer({ PORT: port, DATABASE_URL: db.url, SEED_DEMO: 'false', LOG_LEVEL: 'silent' });
      expect(await second.exited).toBe(1);
      expect(second.stderr()).toMatch(new RegExp(`^switchboard: could not start: port ${port} is in use on 127\\.0\\.0\\.1 .*\\n$`));
      expect(second.stderr()).not.toMatch(NO_STACK);
      expect(await answers(url)).toBe(true);
    } finally {
      first.proc.kill('SIGTERM');
      await first.exited;
    }
  }, 180_000);
});

describe('npm start reuses the build', () => {
  it('does not compile again when the sources did not change, so a config error comes at once', async () => {
    // The run's global setup built the server through the same step.
    const start = await run('npm', ['start', '--silent'], { PORT: 'eighty' });
    console.log(`npm start with PORT=eighty: exit ${start.code} after ${start.ms} ms`);
    expect(start.stderr).not.toMatch(/compiling/);
    expect(`${start.stdout}${start.stderr}`).not.toMatch(/\btsc\b/);
    expect(start.stderr).toContain('switchboard: invalid PORT: expected an integer, got "eighty"');
    expect(start.code).not.toBe(0);
  }, 120_000);
});
