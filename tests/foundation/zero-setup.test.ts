import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../server/src/db/embedded';
import { spawnServer, waitForReady } from '../support/process';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-embedded-'));
  fs.chmodSync(dir, 0o777); // as root, Postgres runs as the postgres user
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('embedded Postgres', () => {
  const logger = pino({ level: 'silent' });

  it('keeps its data between starts, and recovers from a postmaster left by kill -9', async () => {
    const dataDir = tempDir();
    const first = await startEmbeddedPostgres({ dataDir, logger });
    await query(first.url, 'create table kept (v int); insert into kept values (42)');
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir, logger });
    expect(await query(second.url, 'select v from kept')).toEqual([{ v: 42 }]);
    // Simulate a crash of the server that owned it: the postmaster survives and holds the directory.
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(pid).toBeGreaterThan(0);

    const third = await startEmbeddedPostgres({ dataDir, logger });
    expect(await query(third.url, 'select v from kept')).toEqual([{ v: 42 }]);
    await third.stop();
    await second.stop().catch(() => undefined);
  }, 300_000);
});

describe('npm start with nothing configured', () => {
  it('starts the embedded Postgres, migrates, seeds the demo once, serves HTTP and graphql-ws', async () => {
    const dataDir = tempDir();
    const server = spawnServer({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'development' });
    try {
      const url = await waitForReady(server, 120_000);
      expect(server.stdout()).toContain('password for every demo account:');
      expect(server.stdout()).toContain('owner@demo.switchboard.test');

      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      expect(await res.json()).toEqual({ data: { __typename: 'Query' } });

      // The demo works: the supervisor logs in with the printed password and sees the North Depot inbox.
      const password = /password for every demo account: (\S+)/.exec(server.stdout())![1]!;
      const post = async (query: string, token?: string) =>
        (await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query }) })).json()) as { data: any };
      const login = await post(`mutation { login(email: "supervisor@demo.switchboard.test", password: "${password}") { token } }`);
      const token = login.data.login.token as string;
      const ws = await post('{ workspaces { id name } }', token);
      const north = ws.data.workspaces.find((w: { name: string }) => w.name === 'North Depot');
      const inbox = await post(`{ threads(workspaceId: "${north.id}") { edges { node { contact { displayName } messages(first: 1) { edges { node { body } } } } } } }`, token);
      expect(inbox.data.threads.edges).toHaveLength(5);

      const ack = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(url.replace(/^http/, 'ws'), ['graphql-transport-ws']);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
        ws.on('message', (d) => {
          resolve(JSON.parse(String(d)).type);
          ws.close();
        });
        ws.on('error', reject);
      });
      expect(ack).toBe('connection_ack');
    } finally {
      server.proc.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }

    // Second start: same data, no second demo load, no credentials printed again.
    const again = spawnServer({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'development' });
    try {
      await waitForReady(again, 120_000);
      expect(again.stdout()).not.toContain('password for every demo account');
    } finally {
      again.proc.kill('SIGTERM');
      expect(await again.exited).toBe(0);
    }
  }, 300_000);
});
