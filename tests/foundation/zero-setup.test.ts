import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
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

describe('npm start with nothing configured', () => {
  it('starts the embedded Postgres, migrates, seeds the demo once, serves HTTP and graphql-ws', async () => {
    const dataDir = tempDir();
    const server = spawnServer({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'development' });
    try {
      const url = await waitForReady(server, 60_000);
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
    await waitForReady(again, 60_000);
    expect(again.stdout()).not.toContain('password for every demo account');
    // A crash (kill -9) skips every shutdown step: its Postgres keeps running, and the next start takes over.
    again.proc.kill('SIGKILL');
    await again.exited;

    const third = spawnServer({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'development' });
    try {
      const url = await waitForReady(third, 60_000);
      expect(third.stdout()).not.toContain('password for every demo account');
      const res = await fetch(url.replace(/\/graphql$/, '/readyz'));
      expect(res.status).toBe(200);
    } finally {
      third.proc.kill('SIGTERM');
      expect(await third.exited).toBe(0);
    }
  }, 180_000);
});
