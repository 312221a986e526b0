// The Thread object scope (scopes.ts, thread-rows.ts): a query reads the thread once, as a plain row that the
// thread(id) field then returns; a mutation loads the entity, which its transaction finds without reading again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { api } from '../support/api';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';

const START = `mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "scoped" }) { id } }`;
const threadReads = (statements: string[]) => statements.filter((q) => /from "?threads"?\b/.test(q));

describe('the thread object scope', () => {
  let server: TestServer;
  let W: Workspace;
  let supervisor: FixtureUser;
  let agent: FixtureUser;

  beforeAll(async () => {
    server = await bootServer({ recordQueries: true, sweepSnoozes: false, rollups: false });
    const org = new OrgBuilder(server.app, 'Scope Co');
    W = org.workspace('Main');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
  }, 60_000);
  afterAll(() => server?.close());

  it('reads the thread of a message page once, as a plain row, and answers as the entity did', async () => {
    const id = (await api(server).as(supervisor).ok<{ startThread: { id: string } }>(START, { w: W.id, p: '+15554830001' })).startThread.id;
    const { data, statements } = await api(server).as(supervisor).statements(
      `query($t: ID!) { thread(id: $t) { id workspaceId status assigneeUserId needsResponse lastMessagePreview messages(first: 5) { edges { node { body } } } } }`,
      { t: id },
    );
    const reads = threadReads(statements);
    expect(reads).toHaveLength(1);
    expect(reads[0]).not.toMatch(/from "threads"/); // not the ORM's statement
    const thread = (data as any).thread;
    expect(thread).toMatchObject({ id, workspaceId: W.id, status: 'OPEN', assigneeUserId: null, lastMessagePreview: 'scoped' });
    expect(thread.messages.edges.map((e: any) => e.node.body)).toEqual(['scoped']);
  });

  it('hides a thread from an agent it is not assigned to, as before (NOT_FOUND)', async () => {
    const id = (await api(server).as(supervisor).ok<{ startThread: { id: string } }>(START, { w: W.id, p: '+15554830002' })).startThread.id;
    const r = await api(server).as(agent).send(`query($t: ID!) { thread(id: $t) { id } }`, { t: id });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('a thread mutation reads the thread once (the entity its transaction uses)', async () => {
    const id = (await api(server).as(supervisor).ok<{ startThread: { id: string } }>(START, { w: W.id, p: '+15554830003' })).startThread.id;
    const { statements } = await api(server).as(supervisor).statements(`mutation($t: ID!) { closeThread(threadId: $t) { id status } }`, { t: id });
    const reads = threadReads(statements);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/from "threads"/);
  });
});
