import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { ManualClock } from '../../server/src/shared/clock';
import { adminQuery } from '../support/services';
import WebSocket from 'ws';

type Result = { status: number; body: { data?: Record<string, any> | null; errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string } }> } };

function codeOf(r: Result): string | undefined {
  return r.body.errors?.[0]?.extensions?.code;
}

describe('identity and team management', () => {
  let server: TestServer;
  const clock = new ManualClock(new Date('2026-11-24T12:00:00Z'));
  let org: OrgBuilder;
  let W: Workspace, C: Workspace, S: Workspace;
  let owner: FixtureUser, admin: FixtureUser, wsAdmin: FixtureUser, supervisor: FixtureUser, agent: FixtureUser, sAgent: FixtureUser;

  const gql = async (token: string | undefined, query: string, variables?: Record<string, unknown>) => {
    const r = (await server.gql(query, variables, { token })) as Result;
    if (process.env.DEBUG_GQL && r.body.errors) console.log(query.slice(0, 80), JSON.stringify(r.body.errors));
    return r;
  };
  const count = async (table: string) => Number((await adminQuery<{ n: string }>(`select count(*) n from ${table}`)).length);
  async function rows(table: string): Promise<number> {
    const { Client } = await import('pg');
    const c = new Client({ connectionString: server.db.url });
    await c.connect();
    try {
      return Number((await c.query(`select count(*)::int n from ${table}`)).rows[0].n);
    } finally {
      await c.end();
    }
  }
  void count;

  beforeAll(async () => {
    server = await bootServer({ clock });
    org = new OrgBuilder(server.app, 'Acme');
    W = org.workspace('West');
    C = org.workspace('West child', W);
    S = org.workspace('South');
    owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
    admin = await org.login(await org.user('Admin', [{ workspace: null, roles: [Role.ADMIN] }]));
    wsAdmin = await org.login(await org.user('WsAdmin', [{ workspace: W, roles: [Role.ADMIN] }]));
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
    sAgent = await org.login(await org.user('SouthAgent', [{ workspace: S, roles: [Role.AGENT] }]));
  });
  afterAll(() => server.close());

  const INVITE = `mutation($input: InviteUserInput!) { inviteUser(input: $input) { acceptToken invitation { id email status roles workspaceId } } }`;
  const ACCEPT = `mutation($token: String!) { acceptInvitation(token: $token, name: "New Person", password: "a long enough password") { token user { id name status } } }`;

  describe('sessions', () => {
    it('signs up a new organization whose first user is its OWNER, and logs in and out', async () => {
      const up = await gql(undefined, `mutation { signUp(input: { organizationName: "Beta", name: "Bea", email: "bea@beta.test", password: "bea's long password" }) { token user { name email } } }`);
      expect(up.body.errors).toBeUndefined();
      expect(up.body.data!.signUp.user).toEqual({ name: 'Bea', email: 'bea@beta.test' });
      const me = await gql(up.body.data!.signUp.token, `{ me { kind permissions { workspaceId permissions } } }`);
      expect(me.body.data!.me.permissions[0]).toMatchObject({ workspaceId: null });
      expect(me.body.data!.me.permissions[0].permissions).toContain('OWNERS_MANAGE');

      const login = await gql(undefined, `mutation { login(email: "BEA@beta.test", password: "bea's long password") { token } }`);
      const token = login.body.data!.login.token as string;
      expect(token).toMatch(/^sbs_/);
      expect((await gql(token, `mutation { logout }`)).body.data).toEqual({ logout: true });
      expect(codeOf(await gql(token, `{ me { userId } }`))).toBe('UNAUTHENTICATED');
      expect((await gql(token, `{ me { userId } }`)).status).toBe(401);
    });

    it('refuses a wrong password with one error for every kind of failure', async () => {
      expect(codeOf(await gql(undefined, `mutation { login(email: "bea@beta.test", password: "wrong password!") { token } }`))).toBe('INVALID_CREDENTIALS');
      expect(codeOf(await gql(undefined, `mutation { login(email: "nobody@beta.test", password: "wrong password!") { token } }`))).toBe('INVALID_CREDENTIALS');
    });

    it('revokes every session of the caller', async () => {
      const a = await gql(undefined, `mutation { login(email: "bea@beta.test", password: "bea's long password") { token } }`);
      const b = await gql(undefined, `mutation { login(email: "bea@beta.test", password: "bea's long password") { token } }`);
      const r = await gql(a.body.data!.login.token, `mutation { revokeAllSessions { count } }`);
      expect(r.body.data!.revokeAllSessions.count).toBeGreaterThanOrEqual(2);
      expect(codeOf(await gql(b.body.data!.login.token, `{ me { userId } }`))).toBe('UNAUTHENTICATED');
    });

    it('rejects calls without a token with UNAUTHENTICATED', async () => {
      expect(codeOf(await gql(undefined, `{ me { userId } }`))).toBe('UNAUTHENTICATED');
      expect(codeOf(await gql(undefined, `{ users { edges { node { id } } } }`))).toBe('UNAUTHENTICATED');
    });
  });

  describe('field-level denial', () => {
    it('nulls a denied field with FORBIDDEN at its path while the rest of the query succeeds', async () => {
      const r = await gql(agent.token, `{ me { user { name email } } }`);
      expect(r.body.data!.me.user).toEqual({ name: 'Agent', email: null });
      expect(r.body.errors).toHaveLength(1);
      expect(r.body.errors![0]!.path).toEqual(['me', 'user', 'email']);
      expect(r.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
      const ownerView = await gql(owner.token, `{ me { user { email } } }`);
      expect(ownerView.body.data!.me.user.email).toBe(owner.email);
    });
  });

  describe('invitations', () => {
    it('invites, mails, accepts once; the new member logs in with their roles', async () => {
      const inv = await gql(wsAdmin.token, INVITE, { input: { email: 'new.agent@example.test', roles: ['AGENT'], workspaceId: W.id } });
      expect(inv.body.errors).toBeUndefined();
      const { acceptToken, invitation } = inv.body.data!.inviteUser;
      expect(invitation).toMatchObject({ email: 'new.agent@example.test', status: 'PENDING', roles: ['AGENT'], workspaceId: W.id });
      expect(await rows(`mail_outbox where "to" = 'new.agent@example.test'`)).toBe(1);

      const accepted = await gql(undefined, ACCEPT, { token: acceptToken });
      expect(accepted.body.errors).toBeUndefined();
      expect(accepted.body.data!.acceptInvitation.user).toMatchObject({ name: 'New Person', status: 'ACTIVE' });
      const me = await gql(accepted.body.data!.acceptInvitation.token, `{ me { permissions { workspaceId permissions } } }`);
      expect(me.body.data!.me.permissions.map((p: { workspaceId: string }) => p.workspaceId).sort()).toEqual([W.id, C.id].sort());

      expect(codeOf(await gql(undefined, ACCEPT, { token: acceptToken }))).toBe('INVITATION_USED');
      const users = await gql(wsAdmin.token, `{ users(status: ACTIVE, workspaceId: "${W.id}") { edges { node { name } } } }`);
      expect(users.body.data!.users.edges.map((e: { node: { name: string } }) => e.node.name)).toContain('New Person');
    });

    it('refuses revoked, expired and replaced tokens with distinct codes', async () => {
      const a = (await gql(owner.token, INVITE, { input: { email: 'revoked@example.test', roles: ['VIEWER'], workspaceId: W.id } })).body.data!.inviteUser;
      await gql(owner.token, `mutation { revokeInvitation(id: "${a.invitation.id}") { status } }`);
      expect(codeOf(await gql(undefined, ACCEPT, { token: a.acceptToken }))).toBe('INVITATION_REVOKED');

      const b = (await gql(owner.token, INVITE, { input: { email: 'expired@example.test', roles: ['VIEWER'], workspaceId: W.id } })).body.data!.inviteUser;
      clock.advance(7 * 24 * 3_600_000 - 60_000);
      const stillPending = await gql(owner.token, `{ invitations(workspaceId: "${W.id}", status: PENDING) { email } }`);
      expect(stillPending.body.data!.invitations.map((i: { email: string }) => i.email)).toContain('expired@example.test');
      clock.advance(61_000);
      expect(codeOf(await gql(undefined, ACCEPT, { token: b.acceptToken }))).toBe('INVITATION_EXPIRED');

      // Resending gives a new token and a new week; the old token is dead.
      const resent = await gql(owner.token, `mutation { resendInvitation(id: "${b.invitation.id}") { acceptToken invitation { status } } }`);
      expect(resent.body.data!.resendInvitation.invitation.status).toBe('PENDING');
      expect(codeOf(await gql(undefined, ACCEPT, { token: b.acceptToken }))).toBe('INVITATION_INVALID');
      expect((await gql(undefined, ACCEPT, { token: resent.body.data!.resendInvitation.acceptToken })).body.errors).toBeUndefined();
    });
  });

  describe('escalation attempts are refused and write nothing', () => {
    async function refusedWithoutWrites(token: string, query: string, variables?: Record<string, unknown>) {
      const before = await Promise.all(['invitations', 'memberships', 'audit_log', 'api_keys', 'users'].map(rows));
      const r = await gql(token, query, variables);
      expect(codeOf(r)).toBe('FORBIDDEN');
      const after = await Promise.all(['invitations', 'memberships', 'audit_log', 'api_keys', 'users'].map(rows));
      expect(after).toEqual(before);
    }

    it('an admin granting OWNER', async () => {
      await refusedWithoutWrites(admin.token, INVITE, { input: { email: 'sneaky@example.test', roles: ['OWNER'] } });
      await refusedWithoutWrites(admin.token, `mutation($u: ID!) { updateMembership(input: { userId: $u, roles: [OWNER] }) { id } }`, { u: agent.id });
    });

    it('an agent editing its own roles', async () => {
      await refusedWithoutWrites(agent.token, `mutation($u: ID!, $w: ID!) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [ADMIN] }) { id } }`, { u: agent.id, w: W.id });
    });

    it('a workspace admin granting outside its subtree or above its level', async () => {
      await refusedWithoutWrites(wsAdmin.token, INVITE, { input: { email: 'south@example.test', roles: ['AGENT'], workspaceId: S.id } });
      await refusedWithoutWrites(wsAdmin.token, INVITE, { input: { email: 'orgwide@example.test', roles: ['AGENT'] } });
    });

    it('a supervisor granting an add-on it lacks itself', async () => {
      // Supervisors cannot invite at all; an admin at W can, but cannot hand out what it does not hold.
      await refusedWithoutWrites(supervisor.token, INVITE, { input: { email: 'x@example.test', roles: ['AGENT'], addOns: ['SELF_ASSIGN'], workspaceId: W.id } });
    });

    it('an admin editing or deactivating an owner', async () => {
      await refusedWithoutWrites(admin.token, `mutation($u: ID!) { deactivateUser(userId: $u) { id } }`, { u: owner.id });
      await refusedWithoutWrites(admin.token, `mutation($u: ID!) { updateMembership(input: { userId: $u, roles: [ADMIN] }) { id } }`, { u: owner.id });
    });

    it('an API key creating a key wider than itself', async () => {
      const created = await gql(wsAdmin.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "integration", permissions: [API_KEYS_MANAGE, USERS_READ] }) { secret apiKey { id prefix permissions } } }`, { w: W.id });
      expect(created.body.errors).toBeUndefined();
      const secret = created.body.data!.createApiKey.secret as string;
      expect(secret).toMatch(/^sbk_/);
      await refusedWithoutWrites(secret, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "wider", permissions: [USERS_MANAGE] }) { secret } }`, { w: W.id });
      // Within its own permissions it may.
      const narrower = await gql(secret, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "narrower", permissions: [USERS_READ] }) { secret } }`, { w: W.id });
      expect(narrower.body.errors).toBeUndefined();
    });
  });

  describe('owners', () => {
    it('the last owner cannot be demoted or deactivated', async () => {
      expect(codeOf(await gql(owner.token, `mutation($u: ID!) { updateMembership(input: { userId: $u, roles: [ADMIN] }) { id } }`, { u: owner.id }))).toBe('LAST_OWNER');
      expect(codeOf(await gql(owner.token, `mutation($u: ID!) { deactivateUser(userId: $u) { id } }`, { u: owner.id }))).toBe('LAST_OWNER');
    });

    it('owners promote and demote owners', async () => {
      const r = await gql(owner.token, `mutation($u: ID!) { updateMembership(input: { userId: $u, roles: [OWNER] }) { roles } }`, { u: admin.id });
      expect(r.body.data!.updateMembership.roles).toEqual(['OWNER']);
      const back = await gql(owner.token, `mutation($u: ID!) { updateMembership(input: { userId: $u, roles: [ADMIN] }) { roles } }`, { u: admin.id });
      expect(back.body.data!.updateMembership.roles).toEqual(['ADMIN']);
    });
  });

  describe('deactivation', () => {
    it('ends sessions and API keys, keeps history, and can be undone', async () => {
      const victim = await org.login(await org.user('Leaving', [{ workspace: W, roles: [Role.ADMIN] }]));
      const key = await gql(victim.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "k", permissions: [USERS_READ] }) { secret } }`, { w: W.id });
      const secret = key.body.data!.createApiKey.secret as string;
      expect((await gql(secret, `{ me { kind } }`)).body.data!.me.kind).toBe('API_KEY');

      // A live socket of the user, authenticated at connection_init.
      const socket = new WebSocket(server.wsUrl, ['graphql-transport-ws']);
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve) => {
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${victim.token}` } })));
        socket.on('message', () => resolve());
      });

      const d = await gql(wsAdmin.token, `mutation($u: ID!) { deactivateUser(userId: $u) { status deactivatedAt } }`, { u: victim.id });
      expect(await closed).toBe(4403);
      expect(d.body.errors).toBeUndefined();
      expect(d.body.data!.deactivateUser.status).toBe('DEACTIVATED');
      expect(codeOf(await gql(victim.token, `{ me { userId } }`))).toBe('UNAUTHENTICATED');
      expect(codeOf(await gql(secret, `{ me { userId } }`))).toBe('UNAUTHENTICATED');
      const listed = await gql(owner.token, `{ users(status: DEACTIVATED) { edges { node { id } } } }`);
      expect(listed.body.data!.users.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(victim.id);

      const r = await gql(owner.token, `mutation($u: ID!) { reactivateUser(userId: $u) { status } }`, { u: victim.id });
      expect(r.body.data!.reactivateUser.status).toBe('ACTIVE');
      // Old credentials stay dead; the user logs in again.
      expect(codeOf(await gql(victim.token, `{ me { userId } }`))).toBe('UNAUTHENTICATED');
      const again = await gql(undefined, `mutation($e: String!) { login(email: $e, password: "correct horse battery staple") { token } }`, { e: victim.email });
      expect(again.body.data!.login.token).toMatch(/^sbs_/);
    });
  });

  describe('agent groups', () => {
    it('are created, renamed, staffed and deleted by admins; supervisors may not', async () => {
      expect(codeOf(await gql(supervisor.token, `mutation($w: ID!) { createAgentGroup(workspaceId: $w, name: "Night shift") { id } }`, { w: W.id }))).toBe('FORBIDDEN');
      const g = await gql(wsAdmin.token, `mutation($w: ID!) { createAgentGroup(workspaceId: $w, name: "Night shift") { id name workspaceId } }`, { w: W.id });
      const id = g.body.data!.createAgentGroup.id as string;
      expect(codeOf(await gql(wsAdmin.token, `mutation($w: ID!) { createAgentGroup(workspaceId: $w, name: "Night shift") { id } }`, { w: W.id }))).toBe('CONFLICT');
      await gql(wsAdmin.token, `mutation { renameAgentGroup(id: "${id}", name: "Nights") { name } }`);
      const added = await gql(wsAdmin.token, `mutation { addAgentGroupMember(groupId: "${id}", userId: "${agent.id}") { name members { name } } }`);
      expect(added.body.data!.addAgentGroupMember).toEqual({ name: 'Nights', members: [{ name: 'Agent' }] });
      // Someone who does not reach the workspace cannot join its group.
      expect(codeOf(await gql(wsAdmin.token, `mutation { addAgentGroupMember(groupId: "${id}", userId: "${sAgent.id}") { id } }`))).toBe('BAD_USER_INPUT');
      const list = await gql(agent.token, `{ agentGroups(workspaceId: "${W.id}") { name members { name } } }`);
      expect(list.body.data!.agentGroups).toEqual([{ name: 'Nights', members: [{ name: 'Agent' }] }]);
      await gql(wsAdmin.token, `mutation { removeAgentGroupMember(groupId: "${id}", userId: "${agent.id}") { id } }`);
      expect((await gql(wsAdmin.token, `mutation { deleteAgentGroup(id: "${id}") }`)).body.data).toEqual({ deleteAgentGroup: true });
      // Another workspace's admin cannot touch it (the check runs where the group lives).
      const g2 = await gql(owner.token, `mutation($w: ID!) { createAgentGroup(workspaceId: $w, name: "South team") { id } }`, { w: S.id });
      expect(codeOf(await gql(wsAdmin.token, `mutation { renameAgentGroup(id: "${g2.body.data!.createAgentGroup.id}", name: "Mine") { id } }`))).toBe('FORBIDDEN');
    });
  });

  describe('availability', () => {
    it('is set by the user, or by supervisors for people of their workspaces', async () => {
      expect((await gql(agent.token, `mutation { setAvailability(availability: ONLINE) { availability } }`)).body.data!.setAvailability.availability).toBe('ONLINE');
      expect((await gql(supervisor.token, `mutation { setAvailability(availability: AWAY, userId: "${agent.id}") { availability } }`)).body.data!.setAvailability.availability).toBe('AWAY');
      expect(codeOf(await gql(supervisor.token, `mutation { setAvailability(availability: AWAY, userId: "${sAgent.id}") { availability } }`))).toBe('FORBIDDEN');
      expect(codeOf(await gql(agent.token, `mutation { setAvailability(availability: AWAY, userId: "${supervisor.id}") { availability } }`))).toBe('FORBIDDEN');
    });
  });

  describe('audit log', () => {
    it('records who changed what, before and after, for owners and admins only', async () => {
      const r = await gql(owner.token, `{ auditLog(first: 100) { edges { node { action actorUserId targetType before after } } pageInfo { hasNextPage } } }`);
      const actions = r.body.data!.auditLog.edges.map((e: { node: { action: string } }) => e.node.action);
      for (const a of ['invitation.create', 'invitation.accept', 'invitation.revoke', 'invitation.resend', 'membership.update', 'user.deactivate', 'user.reactivate', 'apiKey.create', 'agentGroup.create', 'agentGroup.rename', 'agentGroup.addMember', 'agentGroup.delete', 'user.availability']) {
        expect(actions).toContain(a);
      }
      const promoted = r.body.data!.auditLog.edges.find((e: { node: { action: string; before: unknown } }) => e.node.action === 'membership.update');
      expect(promoted.node.before).toBeTruthy();
      expect(promoted.node.after).toBeTruthy();
      const scoped = await gql(wsAdmin.token, `{ auditLog(workspaceId: "${W.id}") { edges { node { action } } } }`);
      expect(scoped.body.errors).toBeUndefined();
      expect(codeOf(await gql(wsAdmin.token, `{ auditLog { edges { node { action } } } }`))).toBe('FORBIDDEN');
      expect(codeOf(await gql(supervisor.token, `{ auditLog(workspaceId: "${W.id}") { edges { node { action } } } }`))).toBe('FORBIDDEN');
    });
  });

  describe('custom roles', () => {
    it('are defined by owners and granted like roles, within what the granter holds', async () => {
      expect(codeOf(await gql(admin.token, `mutation { createCustomRole(name: "Night lead", permissions: [AGENT_DASHBOARD_VIEW]) { id } }`))).toBe('FORBIDDEN');
      const created = await gql(owner.token, `mutation { createCustomRole(name: "Night lead", permissions: [AGENT_DASHBOARD_VIEW, THREADS_READ_ALL]) { id name permissions } }`);
      const id = created.body.data!.createCustomRole.id as string;
      const granted = await gql(wsAdmin.token, `mutation($u: ID!, $w: ID!, $c: [ID!]) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [AGENT], customRoleIds: $c }) { roles customRoleIds } }`, { u: agent.id, w: W.id, c: [id] });
      expect(granted.body.data!.updateMembership).toEqual({ roles: ['AGENT'], customRoleIds: [id] });
      const me = await gql(agent.token, `{ me { permissions { workspaceId permissions } } }`);
      const onW = me.body.data!.me.permissions.find((p: { workspaceId: string }) => p.workspaceId === W.id);
      expect(onW.permissions).toContain('AGENT_DASHBOARD_VIEW');
      expect(codeOf(await gql(owner.token, `mutation { deleteCustomRole(id: "${id}") }`))).toBe('CONFLICT');
      // A supervisor cannot hand it out (no USERS_MANAGE), even though it holds the permissions.
      expect(codeOf(await gql(supervisor.token, `mutation($u: ID!, $w: ID!, $c: [ID!]) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [AGENT], customRoleIds: $c }) { roles } }`, { u: agent.id, w: W.id, c: [id] }))).toBe('FORBIDDEN');
      await gql(owner.token, `mutation($u: ID!, $w: ID!) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [AGENT], customRoleIds: [] }) { roles } }`, { u: agent.id, w: W.id });
      expect((await gql(owner.token, `mutation { deleteCustomRole(id: "${id}") }`)).body.data).toEqual({ deleteCustomRole: true });
    });
  });

  describe('viewerCan', () => {
    it('tells the client what the viewer may do, so clients never re-implement the rules', async () => {
      const w = await gql(supervisor.token, `{ workspace(id: "${W.id}") { viewerCan { inviteUsers manageUsers readAuditLog permissions } } }`);
      expect(w.body.data!.workspace.viewerCan).toMatchObject({ inviteUsers: false, manageUsers: false, readAuditLog: false });
      const a = await gql(wsAdmin.token, `{ users(workspaceId: "${W.id}") { edges { node { name viewerCan { manage setAvailability } } } } }`);
      const byName = Object.fromEntries(a.body.data!.users.edges.map((e: { node: { name: string; viewerCan: unknown } }) => [e.node.name, e.node.viewerCan]));
      expect(byName.Agent).toEqual({ manage: true, setAvailability: true });
      expect(byName.Owner).toEqual({ manage: false, setAvailability: false });
    });
  });
});
