import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../../server/src/config';
import { startSwitchboard, type Switchboard } from '../../server/src/app';
import { initOrm, migrateUp } from '../../server/src/db/orm';

/** The repository root (this file runs from dist/bench/lib after `npm run build`). */
export const ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || dir.endsWith('dist')) dir = path.dirname(dir);
  return dir;
})();
export const MAIN_JS = path.join(ROOT, 'dist/server/src/main.js');

/** `postgres://.../<name>` next to the admin URL's database. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function sql<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return (await sql(adminUrl, 'select 1 from pg_database where datname = $1', [name])).length > 0;
}

/** Drops and recreates a database, then applies the committed migrations to it. */
export async function createMigratedDatabase(adminUrl: string, name: string): Promise<string> {
  await sql(adminUrl, `drop database if exists "${name}" with (force)`);
  await sql(adminUrl, `create database "${name}"`);
  const url = databaseUrl(adminUrl, name);
  const orm = await initOrm({ databaseUrl: url, logger: pino({ level: 'silent' }) });
  try {
    await migrateUp(orm);
  } finally {
    await orm.close(true);
  }
  return url;
}

/** The real server in this process (for fixtures and server-side timings), on an ephemeral port. */
export async function startInProcess(url: string, env: Record<string, string> = {}): Promise<Switchboard> {
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', DATABASE_URL: url, LOG_LEVEL: 'silent', SEED_DEMO: 'false', ...env });
  return startSwitchboard(config, { logger: pino({ level: 'silent' }), migrate: false });
}

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The compiled server as its own OS process (`node dist/server/src/main.js`), as operators run it; resolves
 * once it prints its ready line. `ulimit -n` is raised to the hard limit for 10k sockets.
 */
export async function spawnServer(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const proc = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, ...nodeArgs, MAIN_JS], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'warn', SEED_DEMO: 'false', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const started = Date.now();
  for (;;) {
    const match = /Switchboard is ready: (http:\/\/\S+\/graphql)/.exec(out);
    if (match) {
      return {
        proc,
        url: match[1]!,
        pid: proc.pid!,
        stop: async () => {
          proc.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
          if (proc.exitCode === null) proc.kill('SIGKILL');
        },
      };
    }
    if (proc.exitCode !== null) throw new Error(`server exited early: ${err}`);
    if (Date.now() - started > 60_000) throw new Error(`server not ready after 60 s: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resident set size of a process in KB (Linux /proc). */
export function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

/** POSTs one GraphQL operation. */
export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: Array<{ message: string }> };
  if (body.errors?.length) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data as T;
}
