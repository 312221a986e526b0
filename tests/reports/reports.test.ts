import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { codeOf } from '../support/api';
import { eventually } from '../support/wait';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { burst, callers, localDay, logHead, reportOrg, rollupTotals, scan, type ReportOrg } from './support';

const ROW = `key threadsOpened messagesIn messagesOut closed transferred notNeedingResponse
  firstResponse { count averageSeconds medianSeconds p90Seconds } resolution { count averageSeconds medianSeconds p90Seconds }`;
const REPORT = `query($w: ID!, $p: ReportPeriodInput!, $g: ReportGroupBy!, $f: ConversationReportFilter) {
  conversationReport(workspaceId: $w, period: $p, groupBy: $g, filter: $f) { workspaceIds groupBy rows { ${ROW} } total { ${ROW} } } }`;
const USAGE_FIELDS = 'messagesSent messagesReceived segmentsSent delivered failed campaignMessagesSent threadsOpened contactsCreated activeUsers';

describe('reports', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let o: ReportOrg;
  let call: ReturnType<typeof callers>;
  let lastWeek: { from: string; to: string };

  beforeAll(async () => {
    server = await bootServer({ channel });
    call = callers(server);
    o = await reportOrg(server, 'Reports Co');
    lastWeek = { from: localDay('America/Chicago', -7), to: localDay('America/Chicago', 1) };
    await burst(server, o, channel, 12, 0);
    const head = await logHead(server.app.orm);
    await eventually(() => server.app.rollups!.position(), (p) => p.xid === head.xid && p.id === head.id, { what: 'the rollup worker caught up with the log' });
  });
  afterAll(() => server.close());

  it('keeps rollups equal to a hand-written scan of the same data after a burst', async () => {
    const expected = await scan(server.app.orm, o.org.id);
    const actual = await rollupTotals(server.app.orm, o.org.id);
    expect({ ...actual, resolutionMs: 0 }).toEqual({ ...expected, resolutionMs: 0 });
    expect(expected.threadsOpened).toBe(12);
    expect(expected.transferred).toBeGreaterThan(0);
    expect(expected.closed).toBeGreaterThan(0);
    expect(expected.notNeedingResponse).toBeGreaterThan(0);
    // Close times: the scan reads the audit row's clock, the rollup the event's: within a second each.
    expect(Math.abs(actual.resolutionMs - expected.resolutionMs)).toBeLessThanOrEqual(1000 * expected.resolutions);
  });

  it('attributes replies, deliveries, transfers and first responses to the agent', async () => {
    for (const agent of [o.agentA, o.agentB]) {
      const expected = await scan(server.app.orm, o.org.id, agent.id);
      const actual = await rollupTotals(server.app.orm, o.org.id, agent.id);
      expect([actual.messagesOut, actual.delivered, actual.transferred, actual.firstResponses, actual.firstResponseMs])
        .toEqual([expected.messagesOut, expected.delivered, expected.transferred, expected.firstResponses, expected.firstResponseMs]);
    }
  });

  it('gives an admin a per-agent report for last week through the API', async () => {
    const r = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: lastWeek, g: 'AGENT' });
    const byKey = new Map(r.conversationReport.rows.map((row: any) => [row.key, row]));
    const a = byKey.get(o.agentA.id) as any;
    const expected = await scan(server.app.orm, o.org.id, o.agentA.id);
    expect([a.messagesOut, a.transferred, a.firstResponse.count]).toEqual([expected.messagesOut, expected.transferred, expected.firstResponses]);
    expect(a.firstResponse.medianSeconds).toBeGreaterThanOrEqual(0);
    expect(r.conversationReport.total.threadsOpened).toBe(12);
  });

  it('shows an auditor the admin reading that report in the audit of reads', async () => {
    await call.ok(o.admin.token, REPORT, { w: o.W.id, p: lastWeek, g: 'AGENT' });
    const r = await call.ok(o.auditor.token, `query($w: ID, $u: ID) { readAudit(workspaceId: $w, actorUserId: $u, action: "report.conversations") {
      edges { node { actorUserId sessionId action targetType targetId workspaceId createdAt } } } }`, { w: o.W.id, u: o.admin.id });
    const reads = r.readAudit.edges.map((e: any) => e.node);
    expect(reads.length).toBeGreaterThan(0);
    expect(reads[0]).toMatchObject({ actorUserId: o.admin.id, action: 'report.conversations', targetType: 'Workspace', targetId: o.W.id, workspaceId: o.W.id });
    expect(reads[0].sessionId).toBeTruthy();
  });

  it('records opening a thread\'s messages and a contact\'s details', async () => {
    const t = await call.ok(o.supervisor.token, `query($w: ID!) { threads(workspaceId: $w, first: 1) { edges { node { id contactId messages(first: 5) { edges { node { id } } } } } } }`, { w: o.W.id });
    const thread = t.threads.edges[0].node;
    await call.ok(o.supervisor.token, `query($id: ID!) { contact(id: $id) { id } }`, { id: thread.contactId });
    const audit = async (target: string) =>
      (await call.ok(o.auditor.token, `query($w: ID, $t: ID) { readAudit(workspaceId: $w, targetId: $t) { edges { node { actorUserId action } } } }`, { w: o.W.id, t: target }))
        .readAudit.edges.map((e: any) => e.node);
    expect(await audit(thread.id)).toContainEqual({ actorUserId: o.supervisor.id, action: 'thread.messages' });
    expect(await audit(thread.contactId)).toContainEqual({ actorUserId: o.supervisor.id, action: 'contact.read' });
  });

  it('pages the audit of reads by keyset, newest first, without repeats', async () => {
    for (let i = 0; i < 3; i++) await call.ok(o.admin.token, `query($w: ID!, $p: ReportPeriodInput!) { usage(workspaceId: $w, period: $p) { workspaceId } }`, { w: o.W.id, p: lastWeek });
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await call.ok(o.auditor.token, `query($w: ID, $a: String) { readAudit(workspaceId: $w, first: 2, after: $a) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }`, { w: o.W.id, a: after });
      seen.push(...page.readAudit.edges.map((e: any) => e.node.id));
      if (!page.readAudit.pageInfo.hasNextPage) break;
      after = page.readAudit.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(3);
  });

  it('groups a report by day in the workspace time zone', async () => {
    const r = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: lastWeek, g: 'DAY' });
    for (const row of r.conversationReport.rows) expect(row.key).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(r.conversationReport.rows.reduce((n: number, row: any) => n + row.messagesIn, 0)).toBe(r.conversationReport.total.messagesIn);
  });

  it('filters by tag: what happened in threads while they carried it', async () => {
    const r = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: lastWeek, g: 'AGENT', f: { tagId: o.tagId } });
    // Even threads were tagged after opening and before the replies; threads 0 and 10 got none.
    expect(r.conversationReport.total.threadsOpened).toBe(0);
    expect(r.conversationReport.total.messagesOut).toBe(4);
  });

  it('filters by agent', async () => {
    const r = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: lastWeek, g: 'AGENT', f: { agentIds: [o.agentB.id] } });
    expect(r.conversationReport.rows.map((row: any) => row.key)).toEqual([o.agentB.id]);
  });

  it('covers the workspaces below with subtree', async () => {
    const r = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: lastWeek, g: 'AGENT', f: { subtree: true } });
    expect(r.conversationReport.workspaceIds.sort()).toEqual([o.W.id, o.Below.id].sort());
  });

  it('shows an owner the usage of every workspace and the total', async () => {
    const r = await call.ok(o.owner.token, `query($p: ReportPeriodInput!) { organizationUsage(period: $p) { workspaces { workspaceId total { ${USAGE_FIELDS} } } total { ${USAGE_FIELDS} } } }`, { p: lastWeek });
    const u = r.organizationUsage;
    expect(u.workspaces.map((w: any) => w.workspaceId).sort()).toEqual([o.W.id, o.Below.id, o.Other.id].sort());
    const depot = u.workspaces.find((w: any) => w.workspaceId === o.W.id).total;
    const expected = await scan(server.app.orm, o.org.id);
    expect([depot.messagesSent, depot.messagesReceived, depot.delivered, depot.threadsOpened]).toEqual([expected.messagesOut, expected.messagesIn, expected.delivered, 12]);
    expect(depot.contactsCreated).toBe(12);
    // Agents A and B replied, the supervisor assigned: at least three active people.
    expect(depot.activeUsers).toBeGreaterThanOrEqual(3);
    expect(u.total.messagesSent).toBe(u.workspaces.reduce((n: number, w: any) => n + w.total.messagesSent, 0));
  });

  it('gives a workspace admin usage per day', async () => {
    const r = await call.ok(o.admin.token, `query($w: ID!, $p: ReportPeriodInput!) { usage(workspaceId: $w, period: $p) { days { day ${USAGE_FIELDS} } total { ${USAGE_FIELDS} } } }`, { w: o.W.id, p: lastWeek });
    const u = r.usage;
    expect(u.days.reduce((n: number, d: any) => n + d.segmentsSent, 0)).toBe(u.total.segmentsSent);
    expect(u.total.segmentsSent).toBeGreaterThanOrEqual(u.total.messagesSent);
  });

  it('refuses a period that ends before it starts', async () => {
    const r = await call.send(o.admin.token, REPORT, { w: o.W.id, p: { from: '2026-11-10', to: '2026-11-01' }, g: 'AGENT' });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.extensions).toMatchObject({ field: 'period.to', reason: 'ENDS_BEFORE_START' });
  });

  it('refuses a period longer than 366 days', async () => {
    const r = await call.send(o.owner.token, `query($p: ReportPeriodInput!) { organizationUsage(period: $p) { total { messagesSent } } }`, { p: { from: '2025-01-01', to: '2026-01-02' } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.extensions).toMatchObject({ reason: 'TOO_LONG' });
  });

  it('refuses a day that is not a calendar day', async () => {
    const r = await call.send(o.admin.token, `query($w: ID!, $p: ReportPeriodInput!) { usage(workspaceId: $w, period: $p) { workspaceId } }`, { w: o.W.id, p: { from: '2026-02-30', to: '2026-03-01' } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
  });

  it('denies conversation reports to an agent and a viewer', async () => {
    for (const who of [o.agentA, o.viewer]) expect(codeOf(await call.send(who.token, REPORT, { w: o.W.id, p: lastWeek, g: 'AGENT' }))).toBe('FORBIDDEN');
  });

  it('denies a workspace admin the organization usage', async () => {
    expect(codeOf(await call.send(o.admin.token, `query($p: ReportPeriodInput!) { organizationUsage(period: $p) { total { messagesSent } } }`, { p: lastWeek }))).toBe('FORBIDDEN');
  });

  it('denies an admin a report on a workspace it does not reach', async () => {
    expect(codeOf(await call.send(o.admin.token, REPORT, { w: o.Other.id, p: lastWeek, g: 'AGENT' }))).toBe('FORBIDDEN');
  });

  it('denies the audit of reads to a supervisor, and the organization-wide one to a workspace auditor', async () => {
    expect(codeOf(await call.send(o.supervisor.token, `query($w: ID) { readAudit(workspaceId: $w) { edges { cursor } } }`, { w: o.W.id }))).toBe('FORBIDDEN');
    expect(codeOf(await call.send(o.auditor.token, `query { readAudit { edges { cursor } } }`))).toBe('FORBIDDEN');
  });
});
