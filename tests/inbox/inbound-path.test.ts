import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { api, type Variables } from '../support/api';

/**
 * The inbound path's hand-written statements (message-writes.ts) write what the entity path wrote: the same
 * rows, audit entries and events, in the same order, in one transaction of a few statements.
 */
describe('the inbound path', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let org: OrgBuilder;
  let W: Workspace;
  let admin: FixtureUser, supervisor: FixtureUser;
  let ingestKey: string;

  const ok = (token: string, query: string, variables?: Variables) => api(server).as(token).ok<Record<string, any>>(query, variables);
  const INGEST = `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { messageId threadId duplicate } }`;
  const inbound = async (from: string, body: string, externalId: string) =>
    (await ok(ingestKey, INGEST, { i: { workspaceId: W.id, from, body, externalId } })).ingestInboundMessage as { messageId: string; threadId: string; duplicate: boolean };

  async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
    const c = new pg.Client({ connectionString: server.db.url });
    await c.connect();
    try {
      return (await c.query<T>(text, params)).rows;
    } finally {
      await c.end();
    }
  }

  const eventsOf = (threadId: string) =>
    sql<{ type: string; payload: any }>(`select type, payload from events where thread_id = $1 order by id`, [threadId]);
  const auditOf = (after: string) =>
    sql<{ action: string; target_type: string; actor_user_id: string | null; actor_api_key_id: string | null; before: any; after: any }>(
      `select action, target_type, actor_user_id, actor_api_key_id, before, after from audit_log where organization_id = $1 and created_at > $2 and action <> 'thread.update' order by created_at, action <> 'optOut.create', action <> 'optOut.reverse'`,
      [org.id, after],
    );

  beforeAll(async () => {
    server = await bootServer({ channel, sweepSnoozes: false, rollups: false, recordQueries: true });
    org = new OrgBuilder(server.app, 'Inbound Co');
    W = org.workspace('Main');
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    ingestKey = (await ok(admin.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gateway", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id })).createApiKey.secret;
    await ok(admin.token, `mutation($w: ID!) { createKeywordRule(workspaceId: $w, name: "Cancellations", phrases: ["cancel"]) { id } }`, { w: W.id });
  });
  afterAll(() => server.close());

  it('a new number, a keyword alert, a STOP on the closed thread, a repeated STOP, a START and a replay: rows, audit and events in order', async () => {
    const [{ now }] = await sql<{ now: string }>(`select now()::text as now`);
    const first = await inbound('+15553010001', 'Hello, I want to cancel my order', 'p-1');
    expect(first.duplicate).toBe(false);
    const threadId = first.threadId;
    await ok(supervisor.token, `mutation($t: ID!) { closeThread(threadId: $t) { status } }`, { t: threadId });
    const sentBefore = channel.sent.length;
    await inbound('+15553010001', 'STOP', 'p-2');
    await inbound('+15553010001', 'stop', 'p-3');
    await inbound('+15553010001', 'START', 'p-4');
    const replay = await inbound('+15553010001', 'START', 'p-4');
    expect(replay.duplicate).toBe(true);

    // One contact, one thread (reopened by the STOP), every message once, the confirmations sent.
    expect(await sql(`select id from contacts where workspace_id = $1 and phone = '+15553010001'`, [W.id])).toHaveLength(1);
    expect(await sql(`select id from threads where workspace_id = $1`, [W.id])).toHaveLength(1);
    const messages = await sql<{ direction: string; body: string; status: string; automated: boolean; external_id: string | null }>(
      `select direction, body, status, automated, external_id from messages where thread_id = $1 order by created_at, direction`,
      [threadId],
    );
    expect(messages.map((m) => [m.direction, m.automated, m.external_id])).toEqual([
      ['INBOUND', false, 'p-1'],
      ['INBOUND', false, 'p-2'],
      ['OUTBOUND', true, null],
      ['INBOUND', false, 'p-3'],
      ['OUTBOUND', true, null],
      ['INBOUND', false, 'p-4'],
      ['OUTBOUND', true, null],
    ]);
    expect(channel.sent.slice(sentBefore).map((s) => s.body)).toEqual([
      expect.stringContaining('unsubscribed'),
      expect.stringContaining('unsubscribed'),
      expect.stringContaining('subscribed again'),
    ]);
    const [thread] = await sql<{ status: string; needs_response: boolean; snoozed_until: Date | null; last_message_preview: string; last_inbound_at: Date | null }>(
      `select status, needs_response, snoozed_until, last_message_preview, last_inbound_at from threads where id = $1`,
      [threadId],
    );
    expect(thread).toMatchObject({ status: 'OPEN', needs_response: false, snoozed_until: null, last_message_preview: expect.stringContaining('subscribed again') });
    expect(thread!.last_inbound_at).not.toBeNull();

    // The repeated STOP keeps the permanent opt-out; START reverses it.
    const optOuts = await sql<{ source: string; created_by_id: string | null; reason: string; reversed_at: Date | null; reversed_by_id: string | null }>(
      `select source, created_by_id, reason, reversed_at, reversed_by_id from opt_outs where workspace_id = $1 and address = '+15553010001'`,
      [W.id],
    );
    expect(optOuts).toEqual([{ source: 'KEYWORD', created_by_id: null, reason: 'Replied "STOP"', reversed_at: expect.any(Date), reversed_by_id: admin.id }]);
    // (An API key acts for the user who made it: the reversal names that user, as ContactService.reverse does.)

    // Events: the entity path's order (the message, its replies, then alerts), each with the thread's state after the change.
    const events = await eventsOf(threadId);
    expect(events.map((e) => e.type)).toEqual([
      'THREAD_CREATED', 'KEYWORD_ALERT',
      'THREAD_UPDATED',
      'MESSAGE_ADDED', 'MESSAGE_ADDED',
      'MESSAGE_ADDED', 'MESSAGE_ADDED',
      'MESSAGE_ADDED', 'MESSAGE_ADDED',
    ]);
    expect(events[0]!.payload).toMatchObject({ message: { direction: 'INBOUND', status: 'RECEIVED', automated: false, authorId: null }, thread: { id: threadId, status: 'OPEN', needsResponse: true, archived: false } });
    expect(events[1]!.payload.alert).toMatchObject({ messageId: first.messageId, matched: 'cancel' });
    expect(events[3]!.payload).toMatchObject({ message: { body: 'STOP' }, thread: { status: 'OPEN', needsResponse: false } });
    expect(events[4]!.payload).toMatchObject({ message: { direction: 'OUTBOUND', status: 'QUEUED', automated: true }, thread: { status: 'OPEN', needsResponse: false } });
    expect(events[4]!.payload.thread.lastActivityAt).toBe(events[4]!.payload.message.createdAt);

    // Audit: each message received, the opt-out made and reversed, by the API key.
    const audit = await auditOf(now);
    expect(audit.map((a) => a.action)).toEqual(['message.receive', 'optOut.create', 'message.receive', 'message.receive', 'optOut.reverse', 'message.receive']);
    expect(audit.every((a) => a.actor_user_id !== undefined && a.actor_api_key_id !== null)).toBe(true);
    expect(audit[1]).toMatchObject({ target_type: 'OptOut', after: { address: '+15553010001', until: null, reason: 'Replied "STOP"', source: 'KEYWORD' } });
    expect(audit[4]).toMatchObject({ before: { reversedAt: null }, after: { reversedAt: expect.any(String) } });
    expect(audit[0]).toMatchObject({ target_type: 'Message', after: { threadId, from: '+15553010001' } });
  });

  it('a message is one transaction of three statements of its own: contact, thread, one write with the events', async () => {
    await inbound('+15553010002', 'First', 'q-1');
    const { statements } = await api(server).as(ingestKey).statements(INGEST, { i: { workspaceId: W.id, from: '+15553010002', body: 'Second', externalId: 'q-2' } });
    const own = statements.filter((s) => /contacts|threads|messages|events/i.test(s) && !/api_keys/i.test(s));
    expect(own).toHaveLength(3);
    expect(own[0]).toMatch(/insert into contacts/i);
    expect(own[1]).toMatch(/for update/i);
    expect(own[2]).toMatch(/insert into messages[\s\S]*insert into events/i);
  });
});
