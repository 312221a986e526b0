import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { api, type Variables } from '../support/api';
import { eventually } from '../support/wait';

const RECIPIENTS = 60;
const phoneOf = (i: number) => `+1555400${String(i).padStart(4, '0')}`;

describe('broadcast sending', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let org: OrgBuilder;
  let W: Workspace;
  let owner: FixtureUser, admin: FixtureUser, marketer: FixtureUser;
  let ingestKey: string;
  let campaignId: string;
  const ok = (u: FixtureUser | string, q: string, v?: Variables) => api(server).as(typeof u === 'string' ? u : u.token).ok<Record<string, any>>(q, v);
  const status = async () => (await ok(marketer, `query($id: ID!) { campaign(id: $id) { status } }`, { id: campaignId })).campaign.status as string;
  const sql = async <T>(text: string, params: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: server.db.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    server = await bootServer({ channel, campaignSender: { ratePerSecond: 1000, batchSize: 7, leaseSeconds: 1 } });
    org = new OrgBuilder(server.app, 'Broadcast Co');
    W = org.workspace('West');
    owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
    ingestKey = (await ok(admin, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gw", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id })).createApiKey.secret;
    const group = (await ok(marketer, `mutation($w: ID!) { createCampaignGroup(workspaceId: $w, name: "All") { id } }`, { w: W.id })).createCampaignGroup.id;
    const csv = 'phone,firstName\n' + Array.from({ length: RECIPIENTS }, (_, i) => `${phoneOf(i)},P${i}`).join('\n');
    await ok(marketer, `mutation($g: ID!, $csv: String!) { addContactsToCampaignGroup(groupId: $g, input: { csv: $csv }) { changed } }`, { g: group, csv });
    // Three opted out in the workspace, three across the organization.
    for (let i = 0; i < 3; i++) await ok(admin, `mutation($w: ID!, $a: String!) { optOut(input: { workspaceId: $w, address: $a }) { id } }`, { w: W.id, a: phoneOf(i) });
    for (let i = 3; i < 6; i++) await ok(owner, `mutation($a: String!) { optOut(input: { address: $a }) { id } }`, { a: phoneOf(i) });
    campaignId = (await ok(marketer, `mutation($w: ID!, $g: ID!) { createCampaign(workspaceId: $w, input: { name: "Sale", messageTemplate: "Hi {{contact.firstName}}, 20% off today", targetGroupIds: [$g] }) { id } }`, { w: W.id, g: group })).createCampaign.id;
    await ok(marketer, `mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id: campaignId });
    await eventually(status, (s) => s === 'COMPLETED', { what: 'the campaign to complete', timeoutMs: 120_000 });
  }, 180_000);
  afterAll(() => server.close());

  it('sends each reachable contact exactly once, and no opted-out contact', () => {
    const to = channel.sent.filter((s) => s.body.includes('20% off')).map((s) => s.to);
    expect(to.length).toBe(RECIPIENTS - 6);
    expect(new Set(to).size).toBe(RECIPIENTS - 6);
    for (let i = 0; i < 6; i++) expect(to).not.toContain(phoneOf(i));
  });

  it('renders the template per contact', () => {
    expect(channel.sent.find((s) => s.to === phoneOf(10))?.body).toBe('Hi P10, 20% off today');
  });

  it('counts the skipped contacts by reason and the sent ones in the progress', async () => {
    const p = (await ok(marketer, `query($id: ID!) { campaignProgressNow(id: $id) { total sent queued skippedOptedOut } }`, { id: campaignId })).campaignProgressNow;
    expect(p).toEqual({ total: RECIPIENTS, sent: RECIPIENTS - 6, queued: 0, skippedOptedOut: 6 });
    const reasons = await sql<{ skip_reason: string; n: string }>(`select skip_reason, count(*) as n from campaign_recipients where campaign_id = $1 and status = 'SKIPPED' group by 1 order by 1`, [campaignId]);
    expect(reasons.map((r) => [r.skip_reason, Number(r.n)])).toEqual([['OPTED_OUT_ORGANIZATION', 3], ['OPTED_OUT_WORKSPACE', 3]]);
  });

  it('writes one progress event per batch, not one per message', async () => {
    const [row] = await sql<{ n: string }>(`select count(*) as n from events where type = 'CAMPAIGN_PROGRESS' and payload -> 'campaign' ->> 'campaignId' = $1`, [campaignId]);
    expect(Number(row!.n)).toBeLessThan(RECIPIENTS / 2);
    expect(Number(row!.n)).toBeGreaterThan(1);
  });

  it('threads a reply into the campaign thread of that contact', async () => {
    const r = await ok(ingestKey, `mutation($w: ID!, $f: String!) { ingestInboundMessage(input: { workspaceId: $w, from: $f, body: "Which store?" }) { threadId } }`, { w: W.id, f: phoneOf(20) });
    const t = await ok(admin, `query($id: ID!) { thread(id: $id) { campaignId } }`, { id: r.ingestInboundMessage.threadId });
    expect(t.thread.campaignId).toBe(campaignId);
    const replied = async () => (await ok(marketer, `query($id: ID!) { campaignProgressNow(id: $id) { replied } }`, { id: campaignId })).campaignProgressNow.replied as number;
    await eventually(replied, (n) => n === 1, { what: 'the reply to be counted' });
  });

  it('streams progress live to a subscriber: one event per batch, the last one COMPLETED with the counts', async () => {
    const group = (await ok(marketer, `query($w: ID!) { campaignGroups(workspaceId: $w) { edges { node { id } } } }`, { w: W.id })).campaignGroups.edges[0].node.id;
    const id = (await ok(marketer, `mutation($w: ID!, $g: ID!) { createCampaign(workspaceId: $w, input: { name: "Live", messageTemplate: "Live {{contact.firstName}}", targetGroupIds: [$g] }) { id } }`, { w: W.id, g: group })).createCampaign.id;
    const after = (await ok(marketer, `{ liveCursor }`)).liveCursor as string;
    const client = server.wsClient({ connectionParams: { authorization: `Bearer ${marketer.token}` } });
    const events: Array<Record<string, any>> = [];
    const completed = new Promise<void>((resolve, reject) => {
      client.subscribe<{ campaignProgress: Record<string, any> }>(
        { query: `subscription($c: ID!, $after: String) { campaignProgress(campaignId: $c, after: $after) { status total sent queued skippedOptedOut cursor } }`, variables: { c: id, after } },
        {
          next: (v) => {
            if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
            events.push(v.data!.campaignProgress);
            if (v.data!.campaignProgress.status === 'COMPLETED') resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    await ok(marketer, `mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id });
    await completed;
    expect(events.at(-1)).toMatchObject({ status: 'COMPLETED', total: RECIPIENTS, sent: RECIPIENTS - 6, queued: 0, skippedOptedOut: 6 });
    expect(events.length).toBeLessThan(RECIPIENTS / 2);
    expect(events[0]).toMatchObject({ status: 'RUNNING', sent: 0 });
  });

  it('a recipient left SENDING by a dead sender is sent again with the same message id once its lease runs out', async () => {
    const [victim] = await sql<{ id: string; message_id: string; phone: string }>(`select id, message_id, phone from campaign_recipients where campaign_id = $1 and status = 'SENT' limit 1`, [campaignId]);
    await sql(`update campaign_recipients set status = 'SENDING', claimed_at = now() - interval '1 hour' where id = $1`, [victim!.id]);
    await sql(`update campaigns set status = 'RUNNING' where id = $1`, [campaignId]);
    const before = channel.sent.length;
    server.app.services.campaigns.onRunning({ id: campaignId, organizationId: org.id });
    await eventually(status, (s) => s === 'COMPLETED', { what: 'the resent campaign to complete' });
    const again = channel.sent.slice(before);
    expect(again.map((s) => [s.to, s.messageId])).toEqual([[victim!.phone, victim!.message_id]]);
  });
});
