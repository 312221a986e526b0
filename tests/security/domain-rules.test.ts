import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { ManualClock } from '../../server/src/shared/clock';
import { sweepSnoozes } from '../../server/src/modules/inbox/snooze';
import { api, codeOf } from '../support/api';


/** The smaller domain rules of issue 13: tenants apart, one rule per question, state that does not drift. */
describe('domain rules', () => {
  let server: TestServer;
  const clock = new ManualClock(new Date('2026-11-30T12:00:00Z'));
  let A: OrgBuilder, B: OrgBuilder;
  let W: Workspace, W2: Workspace, BW: Workspace;
  let ownerA: FixtureUser, ownerB: FixtureUser, adminW: FixtureUser, supW: FixtureUser, agentW: FixtureUser, agentW2: FixtureUser;

  const gql = (token: string, query: string, variables?: Record<string, unknown>) => api(server).as(token).send<Record<string, any>>(query, variables);
  const ok = (token: string, query: string, variables?: Record<string, unknown>) => api(server).as(token).ok<Record<string, any>>(query, variables);
  const code = codeOf;
  const sql = <T = any>(text: string, params: unknown[] = []) => server.app.orm.em.getConnection().execute<T[]>(text, params);

  beforeAll(async () => {
    server = await bootServer({ channel: new SandboxProvider(null), clock });
    A = new OrgBuilder(server.app, 'Alpha');
    W = A.workspace('West');
    W2 = A.workspace('West Two');
    ownerA = await A.login(await A.user('OwnerA', [{ workspace: null, roles: [Role.OWNER] }]));
    adminW = await A.login(await A.user('AdminW', [{ workspace: W, roles: [Role.ADMIN] }]));
    supW = await A.login(await A.user('SupW', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    agentW = await A.login(await A.user('AgentW', [{ workspace: W, roles: [Role.AGENT], addOns: [AddOn.SELF_ASSIGN] }]));
    agentW2 = await A.login(await A.user('AgentW2', [{ workspace: W2, roles: [Role.AGENT] }]));
    B = new OrgBuilder(server.app, 'Beta');
    BW = B.workspace('Beta West');
    ownerB = await B.login(await B.user('OwnerB', [{ workspace: null, roles: [Role.OWNER] }]));
  });
  afterAll(() => server.close());

  describe('invitations are per organization', () => {
    const invite = (token: string, email: string) =>
      gql(token, `mutation($e: String!) { inviteUser(input: { email: $e, roles: [VIEWER] }) { acceptToken invitation { id } } }`, { e: email });
    const accept = (token: string) =>
      server.gql(`mutation($t: String!) { acceptInvitation(token: $t, name: "Pat", password: "a long enough password") { user { id } } }`, { t: token });

    it('a pending invitation elsewhere neither blocks nor reveals the address', async () => {
      const a = await invite(ownerA.token, 'pat@shared.example');
      expect(a.errors).toBeUndefined();
      const b = await invite(ownerB.token, 'pat@shared.example');
      expect(b.errors, JSON.stringify(b.errors)).toBeUndefined();
      // One login per address: the first acceptance wins, the second is told at acceptance.
      expect((await accept(a.data!.inviteUser.acceptToken)).body.errors).toBeUndefined();
      const second = await accept(b.data!.inviteUser.acceptToken);
      expect(second.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      const login = await server.gql(`mutation { login(email: "pat@shared.example", password: "a long enough password") { user { id } } }`);
      expect(login.body.errors).toBeUndefined();
    });

    it('the same organization still refuses a second pending invitation', async () => {
      expect((await invite(ownerA.token, 'sam@shared.example')).errors).toBeUndefined();
      expect(code(await invite(ownerA.token, 'sam@shared.example'))).toBe('CONFLICT');
    });
  });

  it('an admin of W cannot pull a user of sibling W2 into W', async () => {
    const pull = (token: string, userId: string) =>
      gql(token, `mutation($u: ID!, $w: ID!) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [AGENT] }) { id } }`, { u: userId, w: W.id });
    expect(code(await pull(adminW.token, agentW2.id))).toBe('NOT_FOUND');
    const [row] = await sql(`select count(*)::int as n from memberships where user_id = ? and workspace_id = ?`, [agentW2.id, W.id]);
    expect(row.n).toBe(0);
    // Someone who manages the whole organization may.
    expect((await pull(ownerA.token, agentW2.id)).errors).toBeUndefined();
    // And the admin still manages the people of W.
    expect((await gql(adminW.token, `mutation($u: ID!, $w: ID!) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [AGENT], addOns: [SELF_ASSIGN, TRANSFER] }) { id } }`, { u: agentW.id, w: W.id })).errors).toBeUndefined();
  });

  it('an idempotency key is its author\'s, per workspace', async () => {
    const start = (token: string, ws: string, phone: string) =>
      ok(token, `mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "hi", idempotencyKey: "same-key-123" }) { id workspaceId } }`, { w: ws, p: phone });
    const mine = await start(supW.token, W.id, '+15554440001');
    expect((await start(supW.token, W.id, '+15554440001')).startThread.id).toBe(mine.startThread.id);
    const sup2 = await A.login(await A.user('SupW2', [{ workspace: W2, roles: [Role.SUPERVISOR] }]));
    const theirs = await start(sup2.token, W2.id, '+15554440002');
    expect(theirs.startThread.workspaceId).toBe(W2.id);
    expect(theirs.startThread.id).not.toBe(mine.startThread.id);
  });

  it('users(workspaceId) of another organization is NOT_FOUND', async () => {
    expect(code(await gql(ownerA.token, `query($w: ID!) { users(workspaceId: $w) { edges { node { id } } } }`, { w: BW.id }))).toBe('NOT_FOUND');
  });

  it('setOfficeHours without weeklyHours means always open', async () => {
    const r = await ok(adminW.token, `mutation($w: ID!) { setOfficeHours(workspaceId: $w, timeZone: "Europe/Lisbon") { timeZone weeklyHours } }`, { w: W.id });
    expect(r.setOfficeHours).toEqual({ timeZone: 'Europe/Lisbon', weeklyHours: null });
  });

  describe('snoozes that run out', () => {
    const ingestThread = async (phone: string): Promise<string> => {
      const key = (await ok(adminW.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gw", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id })).createApiKey.secret;
      return (await ok(key, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, { i: { workspaceId: W.id, from: phone, body: 'hello?' } })).ingestInboundMessage.threadId;
    };
    const snooze = (threadId: string, minutes: number) =>
      ok(supW.token, `mutation($t: ID!, $u: DateTimeISO!) { snoozeThread(threadId: $t, until: $u) { status } }`, { t: threadId, u: new Date(clock.now().getTime() + minutes * 60_000).toISOString() });
    const updatedEvents = async (threadId: string) =>
      (await sql(`select payload->'thread'->>'status' as status from events where thread_id = ? and type = 'THREAD_UPDATED' order by xid, id`, [threadId])).map((r) => r.status);

    it('count as OPEN in status filters and in takeNextThread, persisted with a THREAD_UPDATED event', async () => {
      // Empty the queue first: only the snoozed thread may come out of it.
      while ((await ok(agentW.token, `mutation($w: ID!) { takeNextThread(workspaceId: $w) { id } }`, { w: W.id })).takeNextThread) { /* drain */ }
      const threadId = await ingestThread('+15554441001');
      await snooze(threadId, 30);
      const open = async () => (await ok(supW.token, `query($w: ID!) { threads(workspaceId: $w, filter: { status: OPEN }) { edges { node { id } } } }`, { w: W.id })).threads.edges.map((e: any) => e.node.id);
      const snoozed = async () => (await ok(supW.token, `query($w: ID!) { threads(workspaceId: $w, filter: { status: SNOOZED }) { edges { node { id } } } }`, { w: W.id })).threads.edges.map((e: any) => e.node.id);
      expect(await open()).not.toContain(threadId);
      expect(await snoozed()).toContain(threadId);
      clock.advance(31 * 60_000);
      expect(await open()).toContain(threadId);
      expect(await snoozed()).not.toContain(threadId);
      const taken = await ok(agentW.token, `mutation($w: ID!) { takeNextThread(workspaceId: $w) { id status assigneeUserId } }`, { w: W.id });
      expect(taken.takeNextThread).toEqual({ id: threadId, status: 'OPEN', assigneeUserId: agentW.id });
      const [row] = await sql(`select status, snoozed_until from threads where id = ?`, [threadId]);
      expect(row).toMatchObject({ status: 'OPEN', snoozed_until: null });
      expect((await updatedEvents(threadId)).slice(-1)).toEqual(['OPEN']);
    });

    it('are woken by the sweep, which persists the change and emits THREAD_UPDATED', async () => {
      const threadId = await ingestThread('+15554441002');
      await snooze(threadId, 10);
      expect(await updatedEvents(threadId)).toEqual(['SNOOZED']);
      expect(await sweepSnoozes(server.app.orm.em, clock)).toBe(0);
      clock.advance(11 * 60_000);
      expect(await sweepSnoozes(server.app.orm.em, clock)).toBeGreaterThanOrEqual(1);
      const [row] = await sql(`select status from threads where id = ?`, [threadId]);
      expect(row.status).toBe('OPEN');
      expect(await updatedEvents(threadId)).toEqual(['SNOOZED', 'OPEN']);
      expect(await sweepSnoozes(server.app.orm.em, clock)).toBe(0);
    });
  });

  it('an agent who starts a thread can still read it (it is theirs); a supervisor\'s stays unassigned', async () => {
    const byAgent = await ok(agentW.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554442001", body: "Following up" }) { id assigneeUserId } }`, { w: W.id });
    expect(byAgent.startThread.assigneeUserId).toBe(agentW.id);
    const read = await ok(agentW.token, `query($t: ID!) { thread(id: $t) { id messages { edges { node { body } } } } }`, { t: byAgent.startThread.id });
    expect(read.thread.messages.edges[0].node.body).toBe('Following up');
    const bySup = await ok(supW.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554442002", body: "Hello" }) { id assigneeUserId } }`, { w: W.id });
    expect(bySup.startThread.assigneeUserId).toBeNull();
  });
});
