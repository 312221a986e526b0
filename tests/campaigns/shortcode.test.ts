import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { api, codeOf, type Variables } from '../support/api';
import { compareCursor } from '../../server/src/realtime/events';

const CREATE = `mutation($w: ID!, $i: ShortcodeKeywordInput!) { createShortcodeKeyword(workspaceId: $w, input: $i) { id keyword autoReply active groupId group { id name } } }`;
const SUBSCRIBERS = `query($w: ID!, $k: ID!, $all: Boolean) { shortcodeSubscribers(workspaceId: $w, keywordId: $k, includeOptedOut: $all) { edges { node { id phone source optedOutAt optedOutById } } } }`;

describe('shortcode keywords', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let org: OrgBuilder;
  let W: Workspace;
  let admin: FixtureUser, marketer: FixtureUser, supervisor: FixtureUser;
  let ingestKey: string;
  let groupId: string;
  let keywordId: string;
  let n = 0;
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
  const inbound = (from: string, body: string, externalId = `sc-${++n}`) =>
    ok(ingestKey, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { messageId threadId duplicate } }`, { i: { workspaceId: W.id, from, body, externalId } }).then((r) => r.ingestInboundMessage);
  /**
   * Runs the keyword worker over everything logged so far and hands over its replies (the signal to assert on).
   * A pass reads only up to the log's safe line, which another writer's open transaction (the rollup worker's,
   * a receipt batch) may hold below the newest event for a moment: passes repeat until the worker's position
   * reaches the newest event committed when settle was called.
   */
  const settle = async () => {
    const [newest] = await sql<{ xid: string; id: string }>(`select xid::text as xid, id::text as id from events order by xid desc, id desc limit 1`);
    for (;;) {
      await server.app.shortcodes!.drain();
      await server.app.shortcodes!.dispatch();
      if (!newest || compareCursor(await server.app.shortcodes!.position(), newest) >= 0) return;
    }
  };
  const repliesTo = (phone: string, body: string) => channel.sent.filter((s) => s.to === phone && s.body === body).length;
  const subscribers = async (all = false) => (await ok(marketer, SUBSCRIBERS, { w: W.id, k: keywordId, all })).shortcodeSubscribers.edges.map((e: any) => e.node);
  const groupSize = async () => (await ok(marketer, `query($id: ID!) { campaignGroup(id: $id) { size } }`, { id: groupId })).campaignGroup.size as number;

  beforeAll(async () => {
    server = await bootServer({ channel });
    org = new OrgBuilder(server.app, 'Shortcode Co');
    W = org.workspace('West');
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
    supervisor = await org.login(await org.user('Supervisor', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    ingestKey = (await ok(admin, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gw", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id })).createApiKey.secret;
    groupId = (await ok(marketer, `mutation($w: ID!) { createCampaignGroup(workspaceId: $w, name: "Volunteers") { id } }`, { w: W.id })).createCampaignGroup.id;
    const k = (await ok(marketer, CREATE, { w: W.id, i: { keyword: 'join', groupId, autoReply: 'Welcome aboard! Reply STOP to opt out.' } })).createShortcodeKeyword;
    expect(k).toMatchObject({ keyword: 'JOIN', active: true, groupId, group: { id: groupId, name: 'Volunteers' } });
    keywordId = k.id;
  }, 120_000);
  afterAll(() => server.close());

  it('is managed with SHORTCODE_MANAGE (admins, marketers), with typed errors for bad keywords', async () => {
    expect(codeOf(await send(supervisor, CREATE, { w: W.id, i: { keyword: 'HELLO', groupId, autoReply: 'Hi' } }))).toBe('FORBIDDEN');
    expect(codeOf(await send(supervisor, `query($w: ID!) { shortcodeKeywords(workspaceId: $w) { id } }`, { w: W.id }))).toBe('FORBIDDEN');
    expect(codeOf(await send(marketer, CREATE, { w: W.id, i: { keyword: 'JOIN', groupId, autoReply: 'Again' } }))).toBe('CONFLICT');
    expect(codeOf(await send(marketer, CREATE, { w: W.id, i: { keyword: 'STOP', groupId, autoReply: 'No' } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await send(marketer, CREATE, { w: W.id, i: { keyword: 'two words', groupId, autoReply: 'No' } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await send(marketer, CREATE, { w: W.id, i: { keyword: 'OTHER', groupId: W.id, autoReply: 'No' } }))).toBe('BAD_USER_INPUT');
    const listed = (await ok(admin, `query($w: ID!) { shortcodeKeywords(workspaceId: $w) { keyword } }`, { w: W.id })).shortcodeKeywords;
    expect(listed).toEqual([{ keyword: 'JOIN' }]);
  });

  it('an inbound keyword subscribes the contact once and replies once per inbound message', async () => {
    const phone = '+15558100001';
    const first = await inbound(phone, ' Join ', 'sc-join-1');
    await settle();
    expect(repliesTo(phone, 'Welcome aboard! Reply STOP to opt out.')).toBe(1);
    expect((await subscribers()).filter((s: any) => s.phone === phone)).toMatchObject([{ source: 'KEYWORD', optedOutAt: null }]);
    expect(await groupSize()).toBe(1);
    // The same delivery again is stored once: no new message, no new reply.
    expect((await inbound(phone, ' Join ', 'sc-join-1')).duplicate).toBe(true);
    await settle();
    expect(repliesTo(phone, 'Welcome aboard! Reply STOP to opt out.')).toBe(1);
    // The worker reads the whole log again (a crash before its cursor moved): nothing more happens.
    await sql(`update report_rollup_cursors set xid = '0', event_id = 0 where name = 'shortcode-keywords'`);
    await settle();
    expect(repliesTo(phone, 'Welcome aboard! Reply STOP to opt out.')).toBe(1);
    expect(await sql(`select id from shortcode_keyword_hits where inbound_message_id = $1`, [first.messageId])).toHaveLength(1);
    // A second keyword message is a new inbound message: one more reply, still one subscription.
    await inbound(phone, 'JOIN!');
    await settle();
    expect(repliesTo(phone, 'Welcome aboard! Reply STOP to opt out.')).toBe(2);
    expect((await subscribers()).filter((s: any) => s.phone === phone)).toHaveLength(1);
    expect(await groupSize()).toBe(1);
    // A reply committed but not marked handed over (a crash after the channel call) goes out again with the same
    // message id: the channel's idempotency key.
    const [hit] = await sql<{ reply_message_id: string }>(`update shortcode_keyword_hits set reply_sent_at = null where inbound_message_id = $1 returning reply_message_id`, [first.messageId]);
    await settle();
    const calls = channel.sent.filter((s) => s.messageId === hit!.reply_message_id);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.to).toBe(phone);
    // The reply is in the contact's thread, as an automated message.
    const thread = (await ok(admin, `query($id: ID!) { thread(id: $id) { needsResponse messages { edges { node { body automated direction } } } } }`, { id: first.threadId })).thread;
    expect(thread.messages.edges.map((e: any) => e.node).filter((m: any) => m.automated)).toHaveLength(2);
    expect(thread.needsResponse).toBe(false);
  });

  it('ignores other messages, inactive keywords, and contacts who opted out', async () => {
    await inbound('+15558100002', 'join the party tonight?');
    await ok(admin, `mutation($w: ID!, $a: String!) { optOut(input: { workspaceId: $w, address: $a }) { id } }`, { w: W.id, a: '+15558100003' });
    await inbound('+15558100003', 'JOIN');
    const other = (await ok(marketer, CREATE, { w: W.id, i: { keyword: 'PAUSED', groupId, autoReply: 'Paused reply', active: false } })).createShortcodeKeyword;
    await inbound('+15558100004', 'paused');
    await settle();
    expect(channel.sent.filter((s) => ['+15558100002', '+15558100003', '+15558100004'].includes(s.to) && /Welcome|Paused/.test(s.body))).toEqual([]);
    expect((await subscribers(true)).map((s: any) => s.phone)).toEqual(['+15558100001']);
    // Switched on, the keyword answers the next message.
    await ok(marketer, `mutation($w: ID!, $k: ID!) { updateShortcodeKeyword(workspaceId: $w, keywordId: $k, input: { active: true }) { active } }`, { w: W.id, k: other.id });
    await inbound('+15558100004', 'paused');
    await settle();
    expect(repliesTo('+15558100004', 'Paused reply')).toBe(1);
    expect((await ok(marketer, `mutation($w: ID!, $k: ID!) { deleteShortcodeKeyword(workspaceId: $w, keywordId: $k) }`, { w: W.id, k: other.id })).deleteShortcodeKeyword).toBe(true);
  });

  it('subscribers are added by hand and opted out, keeping who did it', async () => {
    const contact = (await ok(admin, `mutation($w: ID!) { createContact(workspaceId: $w, input: { phone: "+15558100010", firstName: "Hand" }) { id } }`, { w: W.id })).createContact.id;
    const ADD = `mutation($w: ID!, $k: ID!, $c: [ID!]!) { addShortcodeSubscribers(workspaceId: $w, keywordId: $k, contactIds: $c) { added alreadySubscribed unknown } }`;
    expect((await ok(marketer, ADD, { w: W.id, k: keywordId, c: [contact, W.id] })).addShortcodeSubscribers).toEqual({ added: 1, alreadySubscribed: 0, unknown: 1 });
    expect((await ok(marketer, ADD, { w: W.id, k: keywordId, c: [contact] })).addShortcodeSubscribers).toEqual({ added: 0, alreadySubscribed: 1, unknown: 0 });
    const sub = (await subscribers()).find((s: any) => s.phone === '+15558100010');
    expect(sub).toMatchObject({ source: 'MANUAL' });
    const size = await groupSize();
    const out = (await ok(marketer, `mutation($w: ID!, $s: ID!) { optOutShortcodeSubscriber(workspaceId: $w, subscriptionId: $s) { optedOutAt optedOutById } }`, { w: W.id, s: sub.id })).optOutShortcodeSubscriber;
    expect(out.optedOutById).toBe(marketer.id);
    expect(out.optedOutAt).toBeTruthy();
    expect(await groupSize()).toBe(size - 1);
    expect((await subscribers()).map((s: any) => s.phone)).not.toContain('+15558100010');
    expect((await subscribers(true)).find((s: any) => s.phone === '+15558100010')).toMatchObject({ optedOutById: marketer.id });
    expect(codeOf(await send(supervisor, ADD, { w: W.id, k: keywordId, c: [contact] }))).toBe('FORBIDDEN');
  });
});
