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

  it('reads a thread and its first message page in one statement, with the same answer as two', async () => {
    const id = (await api(server).as(supervisor).ok<{ startThread: { id: string } }>(START, { w: W.id, p: '+15554830004' })).startThread.id;
    for (const body of ['two', 'three']) await api(server).as(supervisor).ok(`mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: id, b: body });
    const page = `edges { cursor node { id body createdAt threadId } } pageInfo { hasNextPage endCursor }`;
    const together = await api(server).as(supervisor).statements(`query($t: ID!, $n: Int) { thread(id: $t) { id status lastActivityAt messages(first: $n) { ${page} } } }`, { t: id, n: 2 });
    // Besides the session's own statement (authentication): one.
    expect(together.statements.filter((q) => !/from sessions/.test(q))).toHaveLength(1);
    expect(threadReads(together.statements)).toHaveLength(1);
    // The same page read the other way: thread first, then the page (a later page, and the field on its own).
    const apart = await api(server).as(supervisor).statements(`query($t: ID!) { thread(id: $t) { id status lastActivityAt } }`, { t: id });
    const t = (together.data as any).thread;
    expect({ id: t.id, status: t.status, lastActivityAt: t.lastActivityAt }).toEqual((apart.data as any).thread);
    expect(t.messages.edges.map((e: any) => e.node.body)).toEqual(['three', 'two']);
    expect(t.messages.pageInfo.hasNextPage).toBe(true);
    const next = await api(server).as(supervisor).ok<any>(`query($t: ID!, $a: String) { thread(id: $t) { messages(first: 2, after: $a) { ${page} } } }`, { t: id, a: t.messages.pageInfo.endCursor });
    expect(next.thread.messages.edges.map((e: any) => e.node.body)).toEqual(['scoped']);
    expect(next.thread.messages.pageInfo.hasNextPage).toBe(false);
    // Two pages of one thread in one query (aliases): each its own size, as before.
    const both = await api(server).as(supervisor).ok<any>(`query($t: ID!) { thread(id: $t) { a: messages(first: 1) { ${page} } b: messages { ${page} } } }`, { t: id });
    expect(both.thread.a.edges.map((e: any) => e.node.body)).toEqual(['three']);
    expect(both.thread.b.edges.map((e: any) => e.node.body)).toEqual(['three', 'two', 'scoped']);
    expect(both.thread.b.edges[0].node).toEqual(t.messages.edges[0].node);
    // A refused size is still the field's BAD_USER_INPUT, the thread itself answered.
    const bad = await api(server).as(supervisor).send(`query($t: ID!) { thread(id: $t) { id messages(first: 0) { ${page} } } }`, { t: id });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('a thread with no messages answers an empty first page', async () => {
    const [row] = await server.app.orm.em.getConnection().execute<Array<{ id: string }>>(
      `insert into threads (id, created_at, organization_id, workspace_id, contact_id, status, archived, needs_response, last_activity_at, channel)
       select gen_random_uuid(), now(), organization_id, workspace_id, contact_id, 'OPEN', false, false, now(), 'empty' from threads where workspace_id = ? limit 1 returning id`,
      [W.id],
    );
    const r = await api(server).as(supervisor).ok<any>(`query($t: ID!) { thread(id: $t) { id channel messages(first: 5) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`, { t: row!.id });
    expect(r.thread).toEqual({ id: row!.id, channel: 'empty', messages: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } } });
  });

  it('hides a thread from an agent it is not assigned to, as before (NOT_FOUND)', async () => {
    const id = (await api(server).as(supervisor).ok<{ startThread: { id: string } }>(START, { w: W.id, p: '+15554830002' })).startThread.id;
    const r = await api(server).as(agent).send(`query($t: ID!) { thread(id: $t) { id } }`, { t: id });
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // Asking for its messages too (read with the thread in one statement) changes nothing.
    const withPage = await api(server).as(agent).send(`query($t: ID!) { thread(id: $t) { id messages(first: 5) { edges { node { body } } } } }`, { t: id });
    expect(withPage.data?.thread ?? null).toBeNull();
    expect(withPage.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('a thread mutation reads the thread once (the entity its transaction uses)', async () => {
    const id = (await api(server).as(supervisor).ok<{ startThread: { id: string } }>(START, { w: W.id, p: '+15554830003' })).startThread.id;
    const { statements } = await api(server).as(supervisor).statements(`mutation($t: ID!) { closeThread(threadId: $t) { id status } }`, { t: id });
    const reads = threadReads(statements);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/from "threads"/);
  });
});
