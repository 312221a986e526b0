import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { api, codeOf } from '../support/api';


/** Who may do what: search needs body access, API keys are nobody's "me", creators read what they create. */
describe('principals and what they reach', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let owner: FixtureUser, admin: FixtureUser, agent: FixtureUser;
  let threadId: string;

  const gql = (token: string, query: string, variables?: Record<string, unknown>) => api(server).as(token).send<Record<string, any>>(query, variables);
  const ok = (token: string, query: string, variables?: Record<string, unknown>) => api(server).as(token).ok<Record<string, any>>(query, variables);
  const code = codeOf;
  const apiKey = async (permissions: string[]) =>
    (await ok(admin.token, `mutation($w: ID!, $p: [Permission!]!) { createApiKey(input: { workspaceId: $w, name: "k", permissions: $p }) { secret } }`, { w: W.id, p: permissions }))
      .createApiKey.secret as string;

  beforeAll(async () => {
    server = await bootServer({ channel: new SandboxProvider(null) });
    org = new OrgBuilder(server.app, 'Principals Co');
    W = org.workspace('West');
    owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT], addOns: [AddOn.SELF_ASSIGN] }]));
    const ingest = await apiKey(['MESSAGES_INGEST']);
    const r = await ok(ingest, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, {
      i: { workspaceId: W.id, from: '+15557770001', body: 'the secret word is aubergine' },
    });
    threadId = r.ingestInboundMessage.threadId;
  });
  afterAll(() => server.close());

  describe('search is no oracle', () => {
    const search = (token: string, term: string) =>
      gql(token, `query($w: ID!, $s: String!) { threads(workspaceId: $w, filter: { search: $s }) { edges { node { id } } } }`, { w: W.id, s: term });

    it('refuses an API key with THREADS_SEARCH but not MESSAGES_READ_BODY', async () => {
      const key = await apiKey(['THREADS_READ', 'THREADS_READ_ALL', 'THREADS_SEARCH']);
      const b = await search(key, 'aubergine');
      expect(code(b)).toBe('FORBIDDEN');
      expect(b.data?.threads ?? null).toBeNull();
    });

    it('refuses a custom role with THREADS_SEARCH but not MESSAGES_READ_BODY', async () => {
      const role = await ok(owner.token, `mutation { createCustomRole(name: "Searcher", permissions: [WORKSPACE_READ, THREADS_READ, THREADS_READ_ALL, THREADS_SEARCH]) { id } }`);
      const searcher = await org.login(await org.user('Searcher', []));
      await ok(owner.token, `mutation($u: ID!, $w: ID!, $c: [ID!]) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [], customRoleIds: $c }) { id } }`, {
        u: searcher.id,
        w: W.id,
        c: [role.createCustomRole.id],
      });
      expect(code(await search(searcher.token, 'aubergine'))).toBe('FORBIDDEN');
    });

    it('still finds the thread for a principal that may read bodies', async () => {
      const key = await apiKey(['THREADS_READ', 'THREADS_READ_ALL', 'THREADS_SEARCH', 'MESSAGES_READ_BODY']);
      const b = await search(key, 'aubergine');
      expect(b.errors).toBeUndefined();
      expect(b.data!.threads.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([threadId]);
    });
  });

  describe('an API key is nobody\'s "me"', () => {
    let key: string;
    beforeAll(async () => {
      key = await apiKey(['WORKSPACE_READ', 'THREADS_READ', 'THREADS_READ_ALL', 'THREADS_SELF_ASSIGN']);
    });

    it('cannot end its creator\'s sessions', async () => {
      expect(code(await gql(key, 'mutation { revokeAllSessions { count } }'))).toBe('FORBIDDEN');
      // The creator is still logged in.
      expect((await ok(admin.token, '{ me { userId } }')).me.userId).toBe(admin.id);
    });

    it('cannot log out or set its creator\'s availability', async () => {
      expect(code(await gql(key, 'mutation { logout }'))).toBe('FORBIDDEN');
      expect(code(await gql(key, 'mutation { setAvailability(availability: AWAY) { id } }'))).toBe('FORBIDDEN');
      expect(code(await gql(key, `mutation($u: ID!) { setAvailability(availability: AWAY, userId: $u) { id } }`, { u: admin.id }))).toBe('FORBIDDEN');
    });

    it('cannot mark threads read or take work for its creator', async () => {
      expect(code(await gql(key, `mutation($t: ID!) { markThreadRead(threadId: $t) { id } }`, { t: threadId }))).toBe('FORBIDDEN');
      expect(code(await gql(key, `mutation($w: ID!) { takeNextThread(workspaceId: $w) { id } }`, { w: W.id }))).toBe('FORBIDDEN');
    });

    it('leaves users their own actions', async () => {
      expect((await ok(agent.token, 'mutation { setAvailability(availability: ONLINE) { availability } }')).setAvailability.availability).toBe('ONLINE');
      expect((await ok(admin.token, `mutation($t: ID!) { markThreadRead(threadId: $t) { id } }`, { t: threadId })).markThreadRead.id).toBe(threadId);
    });
  });

  describe('createWorkspace', () => {
    it('answers with the new workspace, readable by its creator in the same request', async () => {
      const b = await ok(owner.token, 'mutation { createWorkspace(name: "Fresh") { id name viewerCan { inviteUsers } } }');
      expect(b.createWorkspace).toMatchObject({ name: 'Fresh', viewerCan: { inviteUsers: true } });
      const child = await ok(owner.token, `mutation($p: ID!) { createWorkspace(name: "Fresh child", parentId: $p) { id name } }`, { p: b.createWorkspace.id });
      expect(child.createWorkspace.name).toBe('Fresh child');
      const all = await ok(owner.token, '{ workspaces { name } }');
      expect(all.workspaces.filter((w: { name: string }) => w.name === 'Fresh')).toHaveLength(1);
    });
  });
});
