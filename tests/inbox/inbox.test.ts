import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { sign } from '../../server/src/modules/inbox/webhook';

type Body = { data?: Record<string, any> | null; errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }> };

describe('the inbox through the public API', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let org: OrgBuilder;
  let W: Workspace;
  let owner: FixtureUser, admin: FixtureUser, supervisor: FixtureUser, agent: FixtureUser, transferAgent: FixtureUser, viewer: FixtureUser, auditor: FixtureUser;
  let ingestKey: string;

  async function gql(token: string, query: string, variables?: Record<string, unknown>): Promise<Body> {
    const r = await server.gql(query, variables, { token });
    if (process.env.DEBUG_GQL && r.body.errors) console.log(query.slice(0, 60), JSON.stringify(r.body.errors));
    return r.body as Body;
  }
  async function ok(token: string, query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
    const b = await gql(token, query, variables);
    expect(b.errors, JSON.stringify(b.errors)).toBeUndefined();
    return b.data!;
  }
  const code = (b: Body) => b.errors?.[0]?.extensions?.code;
  const inbound = (from: string, body: string, externalId?: string) =>
    gql(ingestKey, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { id: messageId threadId duplicate } }`, { i: { workspaceId: W.id, from, body, externalId } });

  beforeAll(async () => {
    server = await bootServer({ channel });
    org = new OrgBuilder(server.app, 'Inbox Co');
    W = org.workspace('West');
    org.workspace('South'); // a sibling workspace, so that scoping to West is meaningful
    owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT], addOns: [AddOn.SELF_ASSIGN] }]));
    transferAgent = await org.login(await org.user('Mover', [{ workspace: W, roles: [Role.AGENT], addOns: [AddOn.TRANSFER] }]));
    viewer = await org.login(await org.user('Viewer', [{ workspace: W, roles: [Role.VIEWER] }]));
    auditor = await org.login(await org.user('Auditor', [{ workspace: W, roles: [Role.AUDITOR] }]));
    const key = await ok(admin.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "sms gateway", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id });
    ingestKey = key.createApiKey.secret;
  });
  afterAll(() => server.close());

  describe('contacts', () => {
    it('creates, edits, searches, imports with a report, and merges duplicates', async () => {
      const c = await ok(supervisor.token, `mutation($w: ID!) { createContact(workspaceId: $w, input: { firstName: "Ana", lastName: "Lima", phone: "(555) 201-0001", customFields: { plan: "gold" } }) { id phone displayName customFields } }`, { w: W.id });
      expect(c.createContact).toMatchObject({ phone: '+15552010001', displayName: 'Ana Lima', customFields: { plan: 'gold' } });
      expect(code(await gql(supervisor.token, `mutation($w: ID!) { createContact(workspaceId: $w, input: { phone: "not a phone" }) { id } }`, { w: W.id }))).toBe('BAD_USER_INPUT');
      const id = c.createContact.id;
      const edited = await ok(supervisor.token, `mutation($id: ID!) { updateContact(id: $id, input: { email: "ANA@example.test", customFields: { vip: true } }) { email customFields } }`, { id });
      expect(edited.updateContact).toEqual({ email: 'ana@example.test', customFields: { plan: 'gold', vip: true } });
      expect(code(await gql(agent.token, `mutation($id: ID!) { updateContact(id: $id, input: { firstName: "X" }) { id } }`, { id }))).toBe('FORBIDDEN');

      const report = await ok(admin.token, `mutation($w: ID!, $csv: String!) { importContacts(workspaceId: $w, csv: $csv) { imported rejected { line reason } } }`, {
        w: W.id,
        csv: 'firstName,lastName,phone,email,company\nBo,Diaz,555-201-0002,,Acme\nCy,,nonsense,,\n,,,,\nDee,Ng,+15552010003,dee@example.test,"Big, Co"\nEd,,5552010002,,\n',
      });
      expect(report.importContacts.imported).toBe(2);
      expect(report.importContacts.rejected.map((r: { line: number }) => r.line)).toEqual([3, 5]);

      const found = await ok(agent.token, `query($w: ID!) { contacts(workspaceId: $w, search: "diaz") { edges { node { displayName phone customFields } } } }`, { w: W.id });
      expect(found.contacts.edges).toEqual([{ node: { displayName: 'Bo Diaz', phone: '+15552010002', customFields: { company: 'Acme' } } }]);

      const dup = await ok(supervisor.token, `mutation($w: ID!) { createContact(workspaceId: $w, input: { phone: "+15552010001", lastName: "Lima-Duplicate" }) { id } }`, { w: W.id });
      const merged = await ok(supervisor.token, `mutation($k: ID!, $m: ID!) { mergeContacts(keepId: $k, mergeId: $m) { id lastName } }`, { k: id, m: dup.createContact.id });
      expect(merged.mergeContacts).toEqual({ id, lastName: 'Lima' });
      expect(code(await gql(supervisor.token, `query($id: ID!) { contact(id: $id) { id } }`, { id: dup.createContact.id }))).toBe('NOT_FOUND');
    });
  });

  describe('messages', () => {
    it('starts a thread, sends once per idempotency key, and applies delivery receipts idempotently', async () => {
      const started = await ok(supervisor.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15552019999", body: "Your technician is on the way" }) { id contact { phone } } }`, { w: W.id });
      const threadId = started.startThread.id;
      const sentBefore = channel.sent.length;
      const send = () => gql(supervisor.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "ETA 10 minutes", idempotencyKey: "retry-key-0001" }) { id status } }`, { t: threadId });
      const [a, b] = await Promise.all([send(), send()]);
      const c = await send();
      expect(a.data!.sendMessage.id).toBe(b.data!.sendMessage.id);
      expect(c.data!.sendMessage.id).toBe(a.data!.sendMessage.id);
      expect(channel.sent.length - sentBefore).toBe(1);

      channel.flushReceipts();
      await new Promise((r) => setTimeout(r, 200));
      const statuses = await ok(supervisor.token, `query($t: ID!) { thread(id: $t) { messages(first: 10) { edges { node { body status direction } } } } }`, { t: threadId });
      expect(statuses.thread.messages.edges.map((e: { node: { status: string } }) => e.node.status)).toEqual(['DELIVERED', 'DELIVERED']);
      // A late SENT receipt cannot move DELIVERED back.
      const providerId = channel.sent.at(-1)!.providerMessageId;
      expect(await server.app.services.messaging.applyReceipt(orgEm(), providerId, 'SENT' as never)).toBe(false);
    });

    function orgEm() {
      const em = server.app.orm.em.fork();
      em.setFilterParams('tenant', { organizationId: org.id });
      return em;
    }

    it('never sends to an opted-out contact: OPTED_OUT, nothing written, nothing sent', async () => {
      const t = await ok(supervisor.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15552018888", body: "Hello" }) { id } }`, { w: W.id });
      const optOut = await ok(supervisor.token, `mutation($w: ID!) { optOut(input: { workspaceId: $w, address: "555-201-8888", reason: "asked by phone" }) { id address source createdById } }`, { w: W.id });
      expect(optOut.optOut).toMatchObject({ address: '+15552018888', source: 'MANUAL', createdById: supervisor.id });
      const sentBefore = channel.sent.length;
      const refused = await gql(supervisor.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "Are you there?" }) { id } }`, { t: t.startThread.id });
      expect(code(refused)).toBe('OPTED_OUT');
      expect(channel.sent.length).toBe(sentBefore);
      const msgs = await ok(supervisor.token, `query($t: ID!) { thread(id: $t) { messages { edges { node { body } } } } }`, { t: t.startThread.id });
      expect(msgs.thread.messages.edges).toHaveLength(1);
      // Organization-wide opt-outs are for owners; they cover every workspace.
      expect(code(await gql(admin.token, `mutation { optOut(input: { address: "+15552017777" }) { id } }`))).toBe('FORBIDDEN');
      await ok(owner.token, `mutation { optOut(input: { address: "+15552017777", until: "2099-01-01T00:00:00Z" }) { id workspaceId until } }`);
      expect(code(await gql(supervisor.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15552017777", body: "Hi" }) { id } }`, { w: W.id }))).toBe('OPTED_OUT');
      // Reversing lets messages through again.
      await ok(supervisor.token, `mutation($id: ID!) { reverseOptOut(id: $id) { reversedAt reversedById } }`, { id: optOut.optOut.id });
      await ok(supervisor.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "Welcome back" }) { id } }`, { t: t.startThread.id });
      const list = await ok(supervisor.token, `query($w: ID!) { optOuts(workspaceId: $w, includeReversed: true, search: "8888") { edges { node { address reversedAt } } } }`, { w: W.id });
      expect(list.optOuts.edges).toHaveLength(1);
    });

    it('ingests inbound messages, finding or creating the contact and thread; a replay is stored once', async () => {
      const first = await inbound('+15552016666', 'Is my order ready?', 'gw-1');
      expect(first.data!.ingestInboundMessage).toMatchObject({ duplicate: false });
      const replay = await inbound('+15552016666', 'Is my order ready?', 'gw-1');
      expect(replay.data!.ingestInboundMessage).toMatchObject({ id: first.data!.ingestInboundMessage.id, duplicate: true });
      const second = await inbound('+15552016666', 'Hello?', 'gw-2');
      expect(second.data!.ingestInboundMessage.threadId).toBe(first.data!.ingestInboundMessage.threadId);
      const t = await ok(supervisor.token, `query($t: ID!) { thread(id: $t) { needsResponse unreadCount messages { edges { node { body } } } } }`, { t: first.data!.ingestInboundMessage.threadId });
      expect(t.thread).toMatchObject({ needsResponse: true, unreadCount: 2 });
      expect(t.thread.messages.edges).toHaveLength(2);
      await ok(supervisor.token, `mutation($t: ID!) { markThreadRead(threadId: $t) { id } }`, { t: first.data!.ingestInboundMessage.threadId });
      const after = await ok(supervisor.token, `query($t: ID!) { thread(id: $t) { unreadCount } }`, { t: first.data!.ingestInboundMessage.threadId });
      expect(after.thread.unreadCount).toBe(0);
      // A session user cannot ingest (no MESSAGES_INGEST); the key cannot read threads.
      expect(code(await gql(agent.token, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { messageId } }`, { i: { workspaceId: W.id, from: '+15550000001', body: 'x' } }))).toBe('FORBIDDEN');
      expect(code(await gql(ingestKey, `query($w: ID!) { threads(workspaceId: $w) { edges { node { id } } } }`, { w: W.id }))).toBe('FORBIDDEN');
    });

    it('handles STOP and START keywords with confirmations', async () => {
      const sentBefore = channel.sent.length;
      await inbound('+15552015555', 'Hi there', 'k-1');
      const stop = await inbound('+15552015555', ' Stop ', 'k-2');
      expect(stop.errors).toBeUndefined();
      expect(channel.sent.slice(sentBefore).map((s) => s.body)).toEqual([expect.stringContaining('unsubscribed')]);
      const t = stop.data!.ingestInboundMessage.threadId;
      expect(code(await gql(supervisor.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "wait" }) { id } }`, { t }))).toBe('OPTED_OUT');
      const opt = await ok(supervisor.token, `query($w: ID!) { optOuts(workspaceId: $w, search: "5555") { edges { node { source createdById } } } }`, { w: W.id });
      expect(opt.optOuts.edges[0].node).toEqual({ source: 'KEYWORD', createdById: null });
      await inbound('+15552015555', 'START', 'k-3');
      expect(channel.sent.at(-1)!.body).toContain('subscribed again');
      await ok(supervisor.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "Welcome back" }) { id } }`, { t });
    });

    it('accepts signed webhooks, refuses bad signatures storing nothing, and stores a replayed delivery once', async () => {
      const { rotateWebhookSecret } = await ok(admin.token, `mutation($w: ID!) { rotateWebhookSecret(workspaceId: $w) { secret } }`, { w: W.id });
      const url = server.url.replace(/\/graphql$/, '/webhooks/inbound');
      const post = (body: string, signature: string) =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-workspace': W.id, 'x-switchboard-signature': signature }, body });
      const payload = JSON.stringify({ deliveryId: 'wh-1', from: '+15552014444', body: 'Webhook hello' });
      expect((await post(payload, sign('wrong secret', payload))).status).toBe(401);
      expect((await post(payload, 'sha256=00')).status).toBe(401);
      const contacts = await ok(supervisor.token, `query($w: ID!) { contacts(workspaceId: $w, search: "4444") { edges { node { id } } } }`, { w: W.id });
      expect(contacts.contacts.edges).toHaveLength(0);
      const good = await post(payload, sign(rotateWebhookSecret.secret, payload));
      expect(good.status).toBe(200);
      const replay = await post(payload, sign(rotateWebhookSecret.secret, payload));
      expect(((await replay.json()) as { messageId: string }).messageId).toBe(((await good.json()) as { messageId: string }).messageId);
      expect((await post('{not json', sign(rotateWebhookSecret.secret, '{not json'))).status).toBe(400);
    });

    it('renders templates, refusing missing variables before anything is sent', async () => {
      const tpl = await ok(admin.token, `mutation($w: ID!) { createTemplate(workspaceId: $w, name: "Arrival", body: "Hi {{contact.firstName}}, we arrive at {{contact.eta}}") { id } }`, { w: W.id });
      const t = await ok(supervisor.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15552013333", body: "Hello" }) { id contactId } }`, { w: W.id });
      const sentBefore = channel.sent.length;
      const missing = await gql(supervisor.token, `mutation($t: ID!, $tpl: ID!) { sendMessage(input: { threadId: $t, templateId: $tpl }) { id } }`, { t: t.startThread.id, tpl: tpl.createTemplate.id });
      expect(code(missing)).toBe('BAD_USER_INPUT');
      expect(missing.errors![0]!.extensions!.missing).toEqual(['contact.firstName', 'contact.eta']);
      expect(channel.sent.length).toBe(sentBefore);
      await ok(supervisor.token, `mutation($id: ID!) { updateContact(id: $id, input: { firstName: "Gil", customFields: { eta: "3pm" } }) { id } }`, { id: t.startThread.contactId });
      const sent = await ok(supervisor.token, `mutation($t: ID!, $tpl: ID!) { sendMessage(input: { threadId: $t, templateId: $tpl }) { body } }`, { t: t.startThread.id, tpl: tpl.createTemplate.id });
      expect(sent.sendMessage.body).toBe('Hi Gil, we arrive at 3pm');
    });

    it('greets first contacts and answers outside office hours, once per burst', async () => {
      await ok(admin.token, `mutation($w: ID!) { setAutoResponses(workspaceId: $w, autoResponse: "We are closed; we answer at 9am.", greeting: "Thanks for texting Inbox Co!") { autoResponse greeting } }`, { w: W.id });
      // Closed all week: an empty schedule.
      await ok(admin.token, `mutation($w: ID!) { setOfficeHours(workspaceId: $w, timeZone: "America/Chicago", weeklyHours: { _1: [] }) { timeZone } }`.replace('{ _1: [] }', '{ }'), { w: W.id });
      const before = channel.sent.length;
      await inbound('+15552012222', 'First message', 'oh-1');
      await inbound('+15552012222', 'Second message', 'oh-2');
      expect(channel.sent.slice(before).map((s) => s.body)).toEqual(['Thanks for texting Inbox Co!', 'We are closed; we answer at 9am.']);
      expect(code(await gql(admin.token, `mutation($w: ID!) { setOfficeHours(workspaceId: $w, timeZone: "Mars/Olympus") { timeZone } }`, { w: W.id }))).toBe('BAD_USER_INPUT');
      expect(code(await gql(admin.token, `mutation($w: ID!) { setOfficeHours(workspaceId: $w, timeZone: "UTC", weeklyHours: { monday: [] }) { timeZone } }`, { w: W.id }))).toBe('BAD_USER_INPUT');
      await ok(admin.token, `mutation($w: ID!) { setAutoResponses(workspaceId: $w, autoResponse: null, greeting: null) { autoResponse } }`, { w: W.id });
      await ok(admin.token, `mutation($w: ID!) { setOfficeHours(workspaceId: $w, timeZone: "UTC", weeklyHours: null) { timeZone } }`, { w: W.id });
    });

    it('raises keyword alerts on inbound and outbound text, case- and accent-insensitively', async () => {
      expect(code(await gql(supervisor.token, `mutation($w: ID!) { createKeywordRule(workspaceId: $w, name: "Safety", phrases: ["gas leak"]) { id } }`, { w: W.id }))).toBe('FORBIDDEN');
      await ok(auditor.token, `mutation($w: ID!) { createKeywordRule(workspaceId: $w, name: "Safety", phrases: ["gas leak", "perigo"]) { id } }`, { w: W.id });
      const m = await inbound('+15552011111', 'I smell a GAS   Leak!!', 'kw-1');
      await inbound('+15552011111', 'Há PÉRIGO aqui', 'kw-2');
      await inbound('+15552011111', 'gaseous leakage is fine', 'kw-3');
      const alerts = await ok(auditor.token, `query($w: ID!) { keywordAlerts(workspaceId: $w) { edges { node { matched threadId } } } }`, { w: W.id });
      expect(alerts.keywordAlerts.edges.map((e: { node: { matched: string } }) => e.node.matched).sort()).toEqual(['gas leak', 'perigo']);
      expect(alerts.keywordAlerts.edges[0].node.threadId).toBe(m.data!.ingestInboundMessage.threadId);
      expect(code(await gql(agent.token, `query($w: ID!) { keywordAlerts(workspaceId: $w) { edges { node { matched } } } }`, { w: W.id }))).toBe('FORBIDDEN');
    });
  });

  describe('visibility and assignment', () => {
    let threadId: string;
    beforeAll(async () => {
      const m = await inbound('+15552010101', 'Need a plumber', 'vis-1');
      threadId = m.data!.ingestInboundMessage.threadId;
    });

    it('agents see only their threads and their groups\' queues; others see all', async () => {
      const q = `query($w: ID!) { threads(workspaceId: $w, first: 100) { edges { node { id } } } }`;
      const ids = (d: Record<string, any>) => d.threads.edges.map((e: { node: { id: string } }) => e.node.id);
      expect(ids(await ok(supervisor.token, q, { w: W.id }))).toContain(threadId);
      expect(ids(await ok(agent.token, q, { w: W.id }))).not.toContain(threadId);
      expect(code(await gql(agent.token, `query($t: ID!) { thread(id: $t) { id } }`, { t: threadId }))).toBe('NOT_FOUND');
      expect(code(await gql(agent.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "hi" }) { id } }`, { t: threadId }))).toBe('NOT_FOUND');

      await ok(supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { assigneeUserId } }`, { t: threadId, u: agent.id });
      expect(ids(await ok(agent.token, q, { w: W.id }))).toContain(threadId);
      const mine = await ok(agent.token, `query($w: ID!) { threads(workspaceId: $w, filter: { assignee: "me" }) { edges { node { id } } } }`, { w: W.id });
      expect(ids(mine)).toEqual([threadId]);
      await ok(agent.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "On my way" }) { id } }`, { t: threadId });
    });

    it('viewers see threads but not message bodies; auditors read but never send, note or assign', async () => {
      const v = await gql(viewer.token, `query($t: ID!) { thread(id: $t) { id status messages(first: 5) { edges { node { direction body } } } } }`, { t: threadId });
      expect(v.data!.thread.id).toBe(threadId);
      expect(v.data!.thread.messages.edges.every((e: { node: { body: unknown } }) => e.node.body === null)).toBe(true);
      expect(v.errors!.every((e) => e.extensions!.code === 'FORBIDDEN' && e.path!.at(-1) === 'body')).toBe(true);
      const a = await ok(auditor.token, `query($t: ID!) { thread(id: $t) { messages(first: 5) { edges { node { body } } } viewerCan { send note assign readBodies } } }`, { t: threadId });
      expect(a.thread.viewerCan).toEqual({ send: false, note: false, assign: false, readBodies: true });
      expect(code(await gql(auditor.token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "x" }) { id } }`, { t: threadId }))).toBe('FORBIDDEN');
      expect(code(await gql(auditor.token, `mutation($t: ID!) { addNote(threadId: $t, body: "x") { id } }`, { t: threadId }))).toBe('FORBIDDEN');
      expect(code(await gql(viewer.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: threadId, u: viewer.id }))).toBe('FORBIDDEN');
    });

    it('keeps internal notes internal', async () => {
      const before = channel.sent.length;
      await ok(agent.token, `mutation($t: ID!) { addNote(threadId: $t, body: "Customer prefers mornings") { id } }`, { t: threadId });
      expect(channel.sent.length).toBe(before);
      const s = await ok(supervisor.token, `query($t: ID!) { thread(id: $t) { notes { body authorId } } }`, { t: threadId });
      expect(s.thread.notes).toEqual([{ body: 'Customer prefers mornings', authorId: agent.id }]);
      const v = await gql(viewer.token, `query($t: ID!) { thread(id: $t) { id notes { body } } }`, { t: threadId });
      expect(v.data!.thread.notes).toBeNull();
    });

    it('transfers with a reason (agents need the TRANSFER add-on) and records every change', async () => {
      expect(code(await gql(agent.token, `mutation($t: ID!, $u: ID!) { transferThread(threadId: $t, toUserId: $u, reason: "shift over") { id } }`, { t: threadId, u: transferAgent.id }))).toBe('FORBIDDEN');
      await ok(supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: threadId, u: transferAgent.id });
      await ok(transferAgent.token, `mutation($t: ID!, $u: ID!) { transferThread(threadId: $t, toUserId: $u, reason: "shift over") { assigneeUserId } }`, { t: threadId, u: agent.id });
      // After the transfer the previous holder no longer sees it.
      expect(code(await gql(transferAgent.token, `query($t: ID!) { thread(id: $t) { id } }`, { t: threadId }))).toBe('NOT_FOUND');
      const h = await ok(supervisor.token, `query($t: ID!) { thread(id: $t) { assignmentHistory { kind actorId fromUserId toUserId reason } } }`, { t: threadId });
      expect(h.thread.assignmentHistory.map((e: { kind: string }) => e.kind)).toEqual(['assign', 'assign', 'transfer']);
      expect(h.thread.assignmentHistory[2]).toMatchObject({ actorId: transferAgent.id, fromUserId: transferAgent.id, toUserId: agent.id, reason: 'shift over' });
      const audit = await ok(owner.token, `{ auditLog(first: 100) { edges { node { action } } } }`);
      expect(audit.auditLog.edges.map((e: { node: { action: string } }) => e.node.action)).toEqual(expect.arrayContaining(['thread.transfer', 'message.send', 'message.receive', 'contact.create', 'optOut.create', 'note.create']));
    });

    it('closes, snoozes, archives, tags and filters', async () => {
      const tag = await ok(admin.token, `mutation($w: ID!) { createTag(workspaceId: $w, name: "urgent", color: "red") { id } }`, { w: W.id });
      await ok(agent.token, `mutation($t: ID!, $g: ID!) { applyTag(threadId: $t, tagId: $g) { tags { name } } }`, { t: threadId, g: tag.createTag.id });
      const byTag = await ok(supervisor.token, `query($w: ID!, $g: ID!) { threads(workspaceId: $w, filter: { tagId: $g }) { edges { node { id tags { name } } } } }`, { w: W.id, g: tag.createTag.id });
      expect(byTag.threads.edges).toEqual([{ node: { id: threadId, tags: [{ name: 'urgent' }] } }]);
      expect(code(await gql(agent.token, `mutation($t: ID!) { closeThread(threadId: $t) { id } }`, { t: threadId }))).toBe('FORBIDDEN');
      await ok(supervisor.token, `mutation($t: ID!) { snoozeThread(threadId: $t, until: "2099-01-01T00:00:00Z") { status } }`, { t: threadId });
      const snoozed = await ok(supervisor.token, `query($w: ID!) { threads(workspaceId: $w, filter: { status: SNOOZED }) { edges { node { id } } } }`, { w: W.id });
      expect(snoozed.threads.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([threadId]);
      await ok(supervisor.token, `mutation($t: ID!) { closeThread(threadId: $t) { status } }`, { t: threadId });
      await ok(auditor.token, `mutation($t: ID!) { archiveThread(threadId: $t) { archived } }`, { t: threadId });
      const inbox = await ok(supervisor.token, `query($w: ID!) { threads(workspaceId: $w, first: 100) { edges { node { id } } } }`, { w: W.id });
      expect(inbox.threads.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(threadId);
      const archived = await ok(supervisor.token, `query($w: ID!) { threads(workspaceId: $w, filter: { archived: true }) { edges { node { id status } } } }`, { w: W.id });
      expect(archived.threads.edges).toEqual([{ node: { id: threadId, status: 'CLOSED' } }]);
      const search = await ok(supervisor.token, `query($w: ID!) { threads(workspaceId: $w, filter: { archived: true, search: "plumber" }) { edges { node { id } } } }`, { w: W.id });
      expect(search.threads.edges).toHaveLength(1);
      expect(code(await gql(agent.token, `query($w: ID!) { threads(workspaceId: $w, filter: { search: "plumber" }) { edges { node { id } } } }`, { w: W.id }))).toBe('BAD_USER_INPUT');
      // An inbound message on an archived thread starts a fresh one; the badge counts it.
      const badge = await ok(supervisor.token, `query($w: ID!) { unreadCounts(workspaceId: $w) { threads messages } }`, { w: W.id });
      expect(badge.unreadCounts.threads).toBeGreaterThan(0);
    });
  });
});
