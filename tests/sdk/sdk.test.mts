import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSwitchboardClient,
  LoginDocument,
  MeDocument,
  SendMessageDocument,
  StartThreadDocument,
  SwitchboardError,
  ThreadsDocument,
} from '../../client-sdk/src/index.js';
import { bootServer, type TestServer } from '../support/server.js';
import { OrgBuilder, FIXTURE_PASSWORD, type FixtureUser } from '../support/fixtures.js';
import { ROOT } from '../support/build.js';
import { Role } from '../../server/src/modules/identity/permissions.js';
import type { Workspace } from '../../server/src/modules/identity/organization.entity.js';

describe('the client SDK against the real server', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer();
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
  // Resuming across restarts, cuts and close codes: resume.test.mts and close-codes.test.mts.
});

describe('generated SDK files', () => {
  // Code generation and a full tsc run are CPU-bound: on a loaded 2-core machine they take minutes, not seconds.
  it('operations, the SDK schema, error codes and typed documents are what the schema produces (run `npm run codegen` when this fails)', { timeout: 240_000 }, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ops-'));
    execFileSync(process.execPath, [path.join(ROOT, 'client-sdk/scripts/generate-operations.mjs'), tmp], { cwd: ROOT, stdio: 'pipe' });
    const written = fs.readdirSync(tmp, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(tmp, f)).isFile());
    expect(written).toEqual(expect.arrayContaining(['generated/schema.graphql', 'generated/error-codes.ts', 'operations/subscriptions.graphql']));
    for (const f of written) {
      expect(fs.readFileSync(path.join(tmp, f), 'utf8'), f).toBe(fs.readFileSync(path.join(ROOT, 'client-sdk/src', f), 'utf8'));
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

  it('a program that sends a wrong variable type or reads a missing field does not compile', { timeout: 240_000 }, () => {
    // Each @ts-expect-error in client-sdk/test/types.check.ts must be an error; tsc fails if one is not.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'client-sdk/tsconfig.check.json'], { cwd: ROOT, stdio: 'pipe' });
  });
});

describe('the SDK package', () => {
  it('takes graphql as a peer (one copy with the application), and declares its repository and engines', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'client-sdk/package.json'), 'utf8'));
    expect(pkg.peerDependencies?.graphql).toBeTruthy();
    expect(pkg.dependencies?.graphql).toBeUndefined();
    expect(pkg.repository?.directory).toBe('client-sdk');
    expect(pkg.engines?.node).toBeTruthy();
  });
});
