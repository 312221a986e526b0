import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { api, codeOf, type Variables } from '../support/api';

const JOIN = `mutation($t: String!) { joinCampaign(token: $t) { id name status messageTemplate variables maxThreadsPerRequest assignedToMe sentByMe responseScripts { name body } } }`;
const INVITE = `mutation($c: ID!, $h: Int) { createTexterInvite(campaignId: $c, expiresInHours: $h) { token invite { id campaignId expiresAt revokedAt } } }`;
const REQUEST = `mutation($c: ID!, $n: Int!) { requestCampaignThreads(campaignId: $c, count: $n) { id contactId threadId firstName message status fields { name value } } }`;
const SEND = `mutation($c: ID!, $r: ID!) { sendCampaignMessage(campaignId: $c, recipientId: $r) { id status messageId sentAt message } }`;
const REPLIES = `query($c: ID!) { campaignReplies(campaignId: $c) { threadId contactFirstName lastMessagePreview lastInboundAt } }`;
const CLAIM = `mutation($c: ID!, $t: ID!) { claimCampaignReply(campaignId: $c, threadId: $t) { threadId } }`;
const CLAIM_THREAD = `mutation($t: ID!) { claimThread(threadId: $t) { id } }`;

describe('peer-to-peer campaigns', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let org: OrgBuilder;
  let W: Workspace;
  let admin: FixtureUser, marketer: FixtureUser, supervisor: FixtureUser, texterA: FixtureUser, texterB: FixtureUser, stranger: FixtureUser, eastTexter: FixtureUser;
  let ingestKey: string;
  let seq = 0;
  const ok = (u: FixtureUser | string, q: string, v?: Variables) => api(server).as(typeof u === 'string' ? u : u.token).ok<Record<string, any>>(q, v);
  const send = (u: FixtureUser, q: string, v?: Variables) => api(server).as(u.token).send(q, v);
  const sql = async <T>(text: string, params: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: server.db.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  };

  /** A started peer-to-peer campaign over `n` fresh contacts (phones +1555 7<campaign><index>). */
  async function campaign(n: number, max = 5): Promise<{ id: string; phones: string[] }> {
    const k = ++seq;
    const group = (await ok(marketer, `mutation($w: ID!, $n: String!) { createCampaignGroup(workspaceId: $w, name: $n) { id } }`, { w: W.id, n: `P2P ${k}` })).createCampaignGroup.id;
    const phones = Array.from({ length: n }, (_, i) => `+15557${String(k).padStart(2, '0')}${String(i).padStart(4, '0')}`);
    const csv = 'phone,firstName,district\n' + phones.map((p, i) => `${p},P${i},D${i % 3}`).join('\n');
    await ok(marketer, `mutation($g: ID!, $csv: String!) { addContactsToCampaignGroup(groupId: $g, input: { csv: $csv }) { changed } }`, { g: group, csv });
    const id = (await ok(marketer, `mutation($w: ID!, $i: CampaignInput!) { createCampaign(workspaceId: $w, input: $i) { id } }`, {
      w: W.id,
      i: { name: `Canvass ${k}`, kind: 'PEER_TO_PEER', messageTemplate: 'Hi {{contact.firstName}}, district {{custom.district}} votes Tuesday', targetGroupIds: [group], maxThreadsPerRequest: max, responseScripts: [{ name: 'Thanks', body: 'Thank you!' }] },
    })).createCampaign.id;
    await ok(marketer, `mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id });
    return { id, phones };
  }

  async function joined(c: string, ...texters: FixtureUser[]): Promise<void> {
    const { token } = (await ok(marketer, INVITE, { c })).createTexterInvite;
    for (const t of texters) await ok(t, JOIN, { t: token });
  }

  beforeAll(async () => {
    // Statement counts below: no background work writes (snoozes, rollups, the shortcode worker are off).
    server = await bootServer({ channel, recordQueries: true, sweepSnoozes: false, rollups: false, shortcodes: false });
    org = new OrgBuilder(server.app, 'P2P Co');
    W = org.workspace('West');
    const E = org.workspace('East');
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
    supervisor = await org.login(await org.user('Supervolunteer', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    texterA = await org.login(await org.user('Texter A', [{ workspace: W, roles: [Role.AGENT] }]));
    texterB = await org.login(await org.user('Texter B', [{ workspace: W, roles: [Role.AGENT] }]));
    stranger = await org.login(await org.user('Texter not joined', [{ workspace: W, roles: [Role.AGENT] }]));
    eastTexter = await org.login(await org.user('East texter', [{ workspace: E, roles: [Role.AGENT] }]));
    ingestKey = (await ok(admin, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gw", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id })).createApiKey.secret;
  }, 120_000);
  afterAll(() => server.close());

  describe('texter links', () => {
    it('a marketer creates a link; only its hash is stored; a texter joins once and sees the name, script and fields of the message', async () => {
      const c = await campaign(3);
      const can = async (u: FixtureUser) => (await ok(u, `query($id: ID!) { campaign(id: $id) { viewerCan { inviteTexters } } }`, { id: c.id })).campaign.viewerCan.inviteTexters;
      expect([await can(marketer), await can(admin), await can(supervisor)]).toEqual([true, true, false]);
      const created = (await ok(marketer, INVITE, { c: c.id })).createTexterInvite;
      expect(created.token).toMatch(/^sbt_[\w-]{40,}$/);
      const stored = await sql<{ token_hash: string }>(`select token_hash from campaign_texter_invites where id = $1`, [created.invite.id]);
      expect(stored[0]!.token_hash).toHaveLength(64);
      expect(stored[0]!.token_hash).not.toContain(created.token.slice(4, 20));
      const joinedCampaign = (await ok(texterA, JOIN, { t: created.token })).joinCampaign;
      expect(joinedCampaign).toMatchObject({ id: c.id, name: expect.stringMatching(/^Canvass/), status: 'RUNNING', variables: ['contact.firstName', 'custom.district'], maxThreadsPerRequest: 5, responseScripts: [{ name: 'Thanks', body: 'Thank you!' }] });
      await ok(texterA, JOIN, { t: created.token });
      expect((await sql<{ n: string }>(`select count(*) as n from campaign_texters where campaign_id = $1`, [c.id]))[0]!.n).toBe('1');
      const mine = (await ok(texterA, `{ texterCampaigns { edges { node { id name } } } }`)).texterCampaigns.edges.map((e: any) => e.node.id);
      expect(mine).toContain(c.id);
      expect((await ok(stranger, `{ texterCampaigns { edges { node { id } } } }`)).texterCampaigns.edges).toEqual([]);
    });

    it('a texter sees only the campaigns they joined, never the workspace list', async () => {
      expect(codeOf(await send(texterA, `query($w: ID!) { campaigns(workspaceId: $w) { edges { node { id } } } }`, { w: W.id }))).toBe('FORBIDDEN');
      const c = await campaign(1);
      expect(codeOf(await send(texterA, `query($c: ID!) { texterCampaign(campaignId: $c) { id } }`, { c: c.id }))).toBe('NOT_CAMPAIGN_TEXTER');
    });

    it('revoked, expired and unknown links are refused with their codes; a member of another workspace is FORBIDDEN', async () => {
      const c = await campaign(1);
      const revoked = (await ok(marketer, INVITE, { c: c.id })).createTexterInvite;
      const r = (await ok(marketer, `mutation($c: ID!, $i: ID!) { revokeTexterInvite(campaignId: $c, inviteId: $i) { revokedAt } }`, { c: c.id, i: revoked.invite.id })).revokeTexterInvite;
      expect(r.revokedAt).toBeTruthy();
      expect(codeOf(await send(texterA, JOIN, { t: revoked.token }))).toBe('INVITATION_REVOKED');
      const expired = (await ok(marketer, INVITE, { c: c.id, h: 1 })).createTexterInvite;
      await sql(`update campaign_texter_invites set expires_at = now() - interval '1 minute' where id = $1`, [expired.invite.id]);
      expect(codeOf(await send(texterA, JOIN, { t: expired.token }))).toBe('INVITATION_EXPIRED');
      expect(codeOf(await send(texterA, JOIN, { t: 'sbt_nothing-like-a-real-token' }))).toBe('INVITATION_INVALID');
      const fresh = (await ok(marketer, INVITE, { c: c.id })).createTexterInvite;
      expect(codeOf(await send(eastTexter, JOIN, { t: fresh.token }))).toBe('FORBIDDEN');
      const listed = (await ok(marketer, `query($id: ID!) { campaign(id: $id) { texterInvites { id revokedAt } } }`, { id: c.id })).campaign.texterInvites;
      expect(listed).toHaveLength(3);
    });

    it('only those who manage campaigns make links; a broadcast campaign has none', async () => {
      const c = await campaign(1);
      expect(codeOf(await send(supervisor, INVITE, { c: c.id }))).toBe('FORBIDDEN');
      expect(codeOf(await send(texterA, INVITE, { c: c.id }))).toBe('FORBIDDEN');
      const b = (await ok(marketer, `mutation($w: ID!) { createCampaign(workspaceId: $w, input: { name: "Blast", messageTemplate: "Hello" }) { id } }`, { w: W.id })).createCampaign.id;
      expect(codeOf(await send(marketer, INVITE, { c: b }))).toBe('CONFLICT');
    });
  });

  describe('requesting threads', () => {
    it('a texter who did not join is refused with NOT_CAMPAIGN_TEXTER everywhere, and nothing changes', async () => {
      const c = await campaign(2);
      await joined(c.id, texterA);
      const [a] = (await ok(texterA, REQUEST, { c: c.id, n: 1 })).requestCampaignThreads;
      for (const [doc, v] of [
        [REQUEST, { c: c.id, n: 1 }],
        [SEND, { c: c.id, r: a.id }],
        [REPLIES, { c: c.id }],
        [CLAIM, { c: c.id, t: a.threadId }],
        [`query($c: ID!) { campaignAssignments(campaignId: $c) { id } }`, { c: c.id }],
      ] as const) {
        expect(codeOf(await send(stranger, doc, v)), doc).toBe('NOT_CAMPAIGN_TEXTER');
      }
      const rows = await sql<{ status: string; n: string }>(`select status::text as status, count(*) as n from campaign_recipients where campaign_id = $1 group by status order by 1`, [c.id]);
      expect(rows).toEqual([{ status: 'ASSIGNED', n: '1' }, { status: 'PENDING', n: '1' }]);
    });

    it('asks for 1 to the maximum per request', async () => {
      const c = await campaign(2, 3);
      await joined(c.id, texterA);
      expect(codeOf(await send(texterA, REQUEST, { c: c.id, n: 4 }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await send(texterA, REQUEST, { c: c.id, n: 0 }))).toBe('BAD_USER_INPUT');
      const got = (await ok(texterA, REQUEST, { c: c.id, n: 3 })).requestCampaignThreads;
      expect(got).toHaveLength(2);
      expect((await ok(texterA, REQUEST, { c: c.id, n: 3 })).requestCampaignThreads).toEqual([]);
    });

    it('two texters requesting at the same moment never share a contact (repeated until none are left)', async () => {
      const c = await campaign(60, 5);
      await joined(c.id, texterA, texterB);
      const seen = new Map<string, string>();
      for (let round = 0; round < 20; round++) {
        const [a, b] = await Promise.all([ok(texterA, REQUEST, { c: c.id, n: 5 }), ok(texterB, REQUEST, { c: c.id, n: 5 })]);
        const batchA = a.requestCampaignThreads as Array<{ contactId: string }>;
        const batchB = b.requestCampaignThreads as Array<{ contactId: string }>;
        for (const [who, batch] of [['A', batchA], ['B', batchB]] as const) {
          for (const x of batch) {
            expect(seen.get(x.contactId), `contact ${x.contactId} handed to ${seen.get(x.contactId)} and ${who}`).toBeUndefined();
            seen.set(x.contactId, who);
          }
        }
        expect(batchA.length).toBeLessThanOrEqual(5);
        expect(batchB.length).toBeLessThanOrEqual(5);
        if (!batchA.length && !batchB.length) break;
      }
      expect(seen.size).toBe(60);
      const rows = await sql<{ texter_id: string; thread_id: string; assignee_user_id: string }>(
        `select r.texter_id, r.thread_id, t.assignee_user_id from campaign_recipients r join threads t on t.id = r.thread_id where r.campaign_id = $1`,
        [c.id],
      );
      expect(rows).toHaveLength(60);
      for (const r of rows) expect(r.assignee_user_id).toBe(r.texter_id);
      expect(new Set(rows.map((r) => r.thread_id)).size).toBe(60);
    }, 120_000);
  });

  describe('sending and claiming', () => {
    it('sends the rendered initial message through the inbox once, however often it is retried', async () => {
      const c = await campaign(3);
      await joined(c.id, texterA);
      const [x] = (await ok(texterA, REQUEST, { c: c.id, n: 1 })).requestCampaignThreads;
      const phone = c.phones[Number(x.firstName.slice(1))]!;
      expect(x.message).toBe(`Hi ${x.firstName}, district D${Number(x.firstName.slice(1)) % 3} votes Tuesday`);
      expect(x.fields).toEqual([{ name: 'contact.firstName', value: x.firstName }, { name: 'custom.district', value: `D${Number(x.firstName.slice(1)) % 3}` }]);
      const [first, second] = [(await ok(texterA, SEND, { c: c.id, r: x.id })).sendCampaignMessage, (await ok(texterA, SEND, { c: c.id, r: x.id })).sendCampaignMessage];
      expect(first).toMatchObject({ status: 'SENT', messageId: expect.any(String) });
      expect(second.messageId).toBe(first.messageId);
      expect(channel.sent.filter((s) => s.to === phone)).toHaveLength(1);
      const thread = (await ok(texterA, `query($id: ID!) { thread(id: $id) { campaignId messages { edges { node { body direction } } } } }`, { id: x.threadId })).thread;
      expect(thread.campaignId).toBe(c.id);
      expect(thread.messages.edges.map((e: any) => e.node.body)).toEqual([x.message]);
      expect(codeOf(await send(texterB, SEND, { c: c.id, r: x.id }))).toBe('NOT_CAMPAIGN_TEXTER');
      await joined(c.id, texterB);
      expect(codeOf(await send(texterB, SEND, { c: c.id, r: x.id }))).toBe('BAD_USER_INPUT');
      const progress = (await ok(marketer, `query($id: ID!) { campaignProgressNow(id: $id) { sent queued } }`, { id: c.id })).campaignProgressNow;
      expect(progress).toMatchObject({ sent: 1, queued: 2 });
    });

    it('a contact who opted out after the request is skipped, nothing sent', async () => {
      const c = await campaign(1);
      await joined(c.id, texterA);
      const [x] = (await ok(texterA, REQUEST, { c: c.id, n: 1 })).requestCampaignThreads;
      await ok(admin, `mutation($w: ID!, $a: String!) { optOut(input: { workspaceId: $w, address: $a }) { id } }`, { w: W.id, a: c.phones[0] });
      expect((await ok(texterA, SEND, { c: c.id, r: x.id })).sendCampaignMessage).toMatchObject({ status: 'SKIPPED', messageId: null });
      expect(channel.sent.filter((s) => s.to === c.phones[0])).toHaveLength(0);
      // That was the campaign's last contact: it is complete, and hands out nothing more.
      expect((await ok(marketer, `query($id: ID!) { campaign(id: $id) { status viewerCan { inviteTexters } } }`, { id: c.id })).campaign).toEqual({ status: 'COMPLETED', viewerCan: { inviteTexters: false } });
      expect(codeOf(await send(texterA, REQUEST, { c: c.id, n: 1 }))).toBe('CONFLICT');
    });

    it('a joined texter lists and claims a reply nobody holds; claimThread refuses a texter of another campaign', async () => {
      const c = await campaign(1);
      await joined(c.id, texterA, texterB);
      const [x] = (await ok(texterA, REQUEST, { c: c.id, n: 1 })).requestCampaignThreads;
      await ok(texterA, SEND, { c: c.id, r: x.id });
      // The texter leaves the thread (an admin takes it back); the contact answers.
      await ok(admin, `mutation($t: ID!) { unassignThread(threadId: $t) { id } }`, { t: x.threadId });
      const receipt = (await ok(ingestKey, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, { i: { workspaceId: W.id, from: c.phones[0], body: 'Who is this?', externalId: `p2p-reply-${c.id}` } })).ingestInboundMessage;
      expect(receipt.threadId).toBe(x.threadId);
      expect((await ok(texterB, REPLIES, { c: c.id })).campaignReplies).toEqual([{ threadId: x.threadId, contactFirstName: 'P0', lastMessagePreview: 'Who is this?', lastInboundAt: expect.any(String) }]);
      // A texter who sees the thread through an agent group but never joined the campaign cannot claim it.
      const group = (await ok(admin, `mutation($w: ID!) { createAgentGroup(workspaceId: $w, name: "Floor") { id } }`, { w: W.id })).createAgentGroup.id;
      await ok(admin, `mutation($g: ID!, $u: ID!) { addAgentGroupMember(groupId: $g, userId: $u) { id } }`, { g: group, u: stranger.id });
      await ok(admin, `mutation($t: ID!, $g: ID!) { assignThread(threadId: $t, groupId: $g) { id } }`, { t: x.threadId, g: group });
      expect(codeOf(await send(stranger, CLAIM_THREAD, { t: x.threadId }))).toBe('NOT_CAMPAIGN_TEXTER');
      await ok(admin, `mutation($t: ID!) { unassignThread(threadId: $t) { id } }`, { t: x.threadId });
      expect((await ok(texterB, CLAIM, { c: c.id, t: x.threadId })).claimCampaignReply.threadId).toBe(x.threadId);
      expect(codeOf(await send(texterA, CLAIM, { c: c.id, t: x.threadId }))).toBe('CONFLICT');
      const t = (await ok(texterB, `query($id: ID!) { thread(id: $id) { assigneeUserId } }`, { id: x.threadId })).thread;
      expect(t.assigneeUserId).toBe(texterB.id);
      expect((await ok(texterB, REPLIES, { c: c.id })).campaignReplies).toEqual([]);
      // Those who read every thread (an admin) are no texters and claim without joining.
      await ok(admin, `mutation($t: ID!) { unassignThread(threadId: $t) { id } }`, { t: x.threadId });
      expect((await ok(admin, CLAIM_THREAD, { t: x.threadId })).claimThread.id).toBe(x.threadId);
    });
  });

  describe('cost', () => {
    it('a request, a page of texter campaigns and a page of campaign threads cost the same statements whatever their size', async () => {
      const c = await campaign(12, 10);
      await joined(c.id, texterA);
      const count = async (u: FixtureUser, doc: string, v: Variables) => (await api(server).as(u).statements(doc, v)).statements.length;
      const one = await count(texterA, REQUEST, { c: c.id, n: 1 });
      const ten = await count(texterA, REQUEST, { c: c.id, n: 10 });
      expect(ten).toBe(one);
      const PAGE = `query($c: ID!, $n: Int) { campaignThreads(campaignId: $c, first: $n) { edges { node { phone texterName optedOut optedOutByName } } } }`;
      expect(await count(supervisor, PAGE, { c: c.id, n: 12 })).toBe(await count(supervisor, PAGE, { c: c.id, n: 2 }));
      const MINE = `query($n: Int) { texterCampaigns(first: $n) { edges { node { id name assignedToMe sentByMe variables } } } }`;
      expect(await count(texterA, MINE, { n: 50 })).toBe(await count(texterA, MINE, { n: 1 }));
      console.log(`SQL statements: requestCampaignThreads(1) ${one}, requestCampaignThreads(10) ${ten}`);
    });

    it('two sends of one contact at the same moment text it once', async () => {
      const c = await campaign(1);
      await joined(c.id, texterA);
      const [x] = (await ok(texterA, REQUEST, { c: c.id, n: 1 })).requestCampaignThreads;
      const [a, b] = await Promise.all([ok(texterA, SEND, { c: c.id, r: x.id }), ok(texterA, SEND, { c: c.id, r: x.id })]);
      expect(a.sendCampaignMessage.messageId).toBe(b.sendCampaignMessage.messageId);
      expect(channel.sent.filter((s) => s.to === c.phones[0])).toHaveLength(1);
    });
  });

  describe('what supervisors see', () => {
    it('every texter and every contact of the campaign, with opt-out status and who opted them out', async () => {
      const c = await campaign(4);
      await joined(c.id, texterA, texterB);
      const [x] = (await ok(texterA, REQUEST, { c: c.id, n: 1 })).requestCampaignThreads;
      await ok(texterA, SEND, { c: c.id, r: x.id });
      await ok(texterB, REQUEST, { c: c.id, n: 2 });
      await ok(admin, `mutation($w: ID!, $a: String!) { optOut(input: { workspaceId: $w, address: $a, reason: "asked" }) { id } }`, { w: W.id, a: c.phones[3] });
      const texters = (await ok(supervisor, `query($c: ID!) { campaignTexters(campaignId: $c) { userId name assigned sent joinedAt } }`, { c: c.id })).campaignTexters;
      expect(texters).toEqual([
        { userId: texterA.id, name: 'Texter A', assigned: 0, sent: 1, joinedAt: expect.any(String) },
        { userId: texterB.id, name: 'Texter B', assigned: 2, sent: 0, joinedAt: expect.any(String) },
      ]);
      const PAGE = `query($c: ID!, $after: String) { campaignThreads(campaignId: $c, first: 3, after: $after) { edges { node { phone status texterName optedOut optedOutAt sentAt optedOutByName optedOutById optOutSource } } pageInfo { hasNextPage endCursor } } }`;
      const rows: any[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = (await ok(supervisor, PAGE, { c: c.id, after })).campaignThreads;
        rows.push(...page.edges.map((e: any) => e.node));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(rows).toHaveLength(4);
      const out = rows.find((r) => r.phone === c.phones[3]);
      expect(out.optedOutAt).toEqual(expect.any(String));
      expect(rows.filter((r) => r.sentAt)).toHaveLength(1);
      expect(out).toMatchObject({ optedOut: true, optedOutByName: 'Admin', optedOutById: admin.id, optOutSource: 'MANUAL' });
      expect(rows.filter((r) => r.optedOut)).toHaveLength(1);
      expect(rows.filter((r) => r.texterName === 'Texter B')).toHaveLength(2);
      expect(codeOf(await send(texterA, `query($c: ID!) { campaignThreads(campaignId: $c) { edges { node { phone } } } }`, { c: c.id }))).toBe('FORBIDDEN');
      expect(codeOf(await send(texterA, `query($c: ID!) { campaignTexters(campaignId: $c) { userId } }`, { c: c.id }))).toBe('FORBIDDEN');
    });
  });
});
