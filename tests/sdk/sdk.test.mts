import net from 'node:net';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSwitchboardClient,
  LoginDocument,
  MeDocument,
  OnThreadEventsDocument,
  SendMessageDocument,
  StartThreadDocument,
  SwitchboardError,
  ThreadsDocument,
} from '../../client-sdk/src/index.js';
import { bootServer, type TestServer } from '../support/server.js';
import { OrgBuilder, FIXTURE_PASSWORD, type FixtureUser } from '../support/fixtures.js';
import { spawnServer, waitForReady, type ServerProcess } from '../support/process.js';
import { ROOT } from '../support/build.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { Role } from '../../server/src/modules/identity/permissions.js';
import type { Workspace } from '../../server/src/modules/identity/organization.entity.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('the client SDK against the real server', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer({ redis: true });
    org = new OrgBuilder(server.app, 'SDK Co');
    W = org.workspace('Main');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  });
  afterAll(() => server.close());

  it('logs in, queries and mutates with typed documents; errors carry the server code', async () => {
    const anonymous = createSwitchboardClient({ url: server.url });
    const { login } = await anonymous.mutate(LoginDocument, { email: supervisor.email, password: FIXTURE_PASSWORD });
    const client = createSwitchboardClient({ url: server.url, token: login.token });
    const { me } = await client.query(MeDocument);
    expect(me.userId).toBe(supervisor.id);
    const { startThread } = await client.mutate(StartThreadDocument, { input: { workspaceId: W.id, phone: '+15554000001', body: 'From the SDK' } });
    const page = await client.query(ThreadsDocument, { workspaceId: W.id, first: 10 });
    expect(page.threads.edges.map((e) => e.node.id)).toContain(startThread.id);
    await expect(anonymous.mutate(LoginDocument, { email: supervisor.email, password: 'wrong password!!' })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    const err = await client.mutate(SendMessageDocument, { input: { threadId: startThread.id, body: '' } }).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe('BAD_USER_INPUT');
  });

  it('a running subscribe loses no event when its server is killed and restarted (the SDK resumes)', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: server.db.url, REDIS_URL: TEST_REDIS_URL, PORT: String(port), SEED_DEMO: 'false', LOG_LEVEL: 'warn' };
    let proc: ServerProcess = spawnServer(env);
    const url = await waitForReady(proc);
    const { startThread } = await server.gql<any>(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554000002", body: "start" }) { id } }`, { w: W.id }, { token: supervisor.token }).then((r) => r.body.data!);
    const client = createSwitchboardClient({ url, token: supervisor.token, webSocketImpl: WebSocket, retry: { initialDelayMs: 100, maxDelayMs: 500 } });
    const received: string[] = [];
    const stream = client.subscribe(OnThreadEventsDocument, { threadId: startThread.id });
    const reading = (async () => {
      for await (const event of stream) {
        if (event.threadEvents.type === 'MESSAGE_ADDED' && event.threadEvents.message?.body?.startsWith('n-')) received.push(event.threadEvents.message.body);
        if (received.length === 60) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const send = (i: number) => server.gql(`mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: startThread.id, b: `n-${i}` }, { token: supervisor.token });
    for (let i = 0; i < 20; i++) await send(i);
    while (received.length < 20) await new Promise((r) => setTimeout(r, 20));
    proc.proc.kill('SIGKILL'); // no goodbye: the socket just dies
    await proc.exited;
    for (let i = 20; i < 40; i++) await send(i); // written while the subscriber's server is down
    proc = spawnServer(env);
    await waitForReady(proc);
    for (let i = 40; i < 60; i++) await send(i);
    await Promise.race([reading, new Promise((_, reject) => setTimeout(() => reject(new Error(`received ${received.length} of 60`)), 30_000))]);
    expect(received).toEqual(Array.from({ length: 60 }, (_, i) => `n-${i}`));
    await client.dispose();
    proc.proc.kill('SIGTERM');
    await proc.exited;
  }, 90_000);
});

describe('generated SDK files', () => {
  it('operations and typed documents are what the schema produces (run `npm run codegen` when this fails)', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ops-'));
    execFileSync(process.execPath, [path.join(ROOT, 'client-sdk/scripts/generate-operations.mjs'), tmp], { cwd: ROOT, stdio: 'pipe' });
    for (const f of fs.readdirSync(tmp)) {
      expect(fs.readFileSync(path.join(tmp, f), 'utf8'), f).toBe(fs.readFileSync(path.join(ROOT, 'client-sdk/src/operations', f), 'utf8'));
    }
    const { generate } = await import('@graphql-codegen/cli');
    const { parse } = await import('yaml');
    const config = parse(fs.readFileSync(path.join(ROOT, 'codegen.yml'), 'utf8'));
    const outputs = (await generate({ ...config, cwd: ROOT, silent: true }, false)) as Array<{ filename: string; content: string }>;
    expect(outputs.length).toBeGreaterThan(0);
    for (const o of outputs) {
      expect(o.content, o.filename).toBe(fs.readFileSync(path.resolve(ROOT, o.filename), 'utf8'));
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a program that sends a wrong variable type or reads a missing field does not compile', () => {
    // Each @ts-expect-error in client-sdk/test/types.check.ts must be an error; tsc fails if one is not.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'client-sdk/tsconfig.check.json'], { cwd: ROOT, stdio: 'pipe' });
  });
});
