import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { codeOf } from '../support/api';
import { eventually } from '../support/wait';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { Role } from '../../server/src/modules/identity/permissions';
import { burst, callers, localDay, logHead, reportOrg, type ReportOrg } from './support';

const REPORT = `query($w: ID!, $p: ReportPeriodInput!, $g: ReportGroupBy!) {
  conversationReport(workspaceId: $w, period: $p, groupBy: $g) { rows { key messagesOut transferred firstResponse { count } } total { threadsOpened } } }`;
const START = `mutation($i: StartExportInput!) { startExport(input: $i) { id status kind format workspaceId createdById viewerCan { download } } }`;
const URL_FOR = `mutation($id: ID!) { createExportDownloadUrl(exportId: $id) { url path expiresAt } }`;

/** Parses RFC 4180 CSV (quoted cells, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false; else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\r') continue;
    else if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; } else cell += ch;
  }
  return rows;
}

describe('exports', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let o: ReportOrg;
  let call: ReturnType<typeof callers>;
  let lastWeek: { from: string; to: string };
  const base = () => new URL(server.url).origin;

  beforeAll(async () => {
    server = await bootServer({ channel });
    call = callers(server);
    o = await reportOrg(server, 'Exports Co');
    lastWeek = { from: localDay('America/Chicago', -7), to: localDay('America/Chicago', 1) };
    await burst(server, o, channel, 8, 0);
    const head = await logHead(server.app.orm);
    await eventually(() => server.app.rollups!.position(), (p) => p.xid === head.xid && p.id === head.id, { what: 'the rollup worker caught up with the log' });
  });
  afterAll(() => server.close());

  /** Starts an export and follows exportProgress (subscribed from a cursor taken before the start) to its end. */
  async function exportAndFollow(token: string, input: Record<string, unknown>): Promise<{ id: string; events: Array<Record<string, any>> }> {
    const after = (await call.ok(token, `{ liveCursor }`)).liveCursor as string;
    const started = (await call.ok(token, START, { i: input })).startExport;
    expect(started).toMatchObject({ status: 'QUEUED', viewerCan: { download: false } });
    const client = server.wsClient({ connectionParams: { authorization: `Bearer ${token}` } });
    const events: Array<Record<string, any>> = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe<{ exportProgress: Record<string, any> }>(
        { query: `subscription($e: ID!, $after: String) { exportProgress(exportId: $e, after: $after) { exportId status rowsWritten bytesWritten error } }`, variables: { e: started.id, after } },
        {
          next: (v) => {
            if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
            events.push(v.data!.exportProgress);
            if (['DONE', 'FAILED'].includes(v.data!.exportProgress.status)) resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    await client.dispose();
    return { id: started.id, events };
  }

  it('acceptance: an admin reads a per-agent report for last week, exports it as CSV, downloads it once; an auditor sees both reads', async () => {
    const report = (await call.ok(o.admin.token, REPORT, { w: o.W.id, p: lastWeek, g: 'AGENT' })).conversationReport;
    const { id, events } = await exportAndFollow(o.admin.token, { workspaceId: o.W.id, kind: 'CONVERSATION_REPORT', format: 'CSV', period: lastWeek, groupBy: 'AGENT' });
    expect(events[0]).toMatchObject({ exportId: id, status: 'QUEUED' });
    expect(events.at(-1)).toMatchObject({ status: 'DONE', rowsWritten: report.rows.length, error: null });

    const exp = (await call.ok(o.admin.token, `query($id: ID!) { export(id: $id) { status rowsWritten viewerCan { download } } }`, { id })).export;
    expect(exp).toMatchObject({ status: 'DONE', rowsWritten: report.rows.length, viewerCan: { download: true } });
    const link = (await call.ok(o.admin.token, URL_FOR, { id })).createExportDownloadUrl;
    expect(link.path).toMatch(new RegExp(`^/exports/${o.org.id}/${id}/[A-Za-z0-9_-]{43}$`));
    expect(new Date(link.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const res = await fetch(base() + link.path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const csv = parseCsv(await res.text());
    expect(csv[0]!.slice(0, 3)).toEqual(['key', 'threadsOpened', 'messagesIn']);
    const byKey = new Map(csv.slice(1).map((r) => [r[0], r]));
    for (const row of report.rows) {
      const line = byKey.get(row.key ?? '')!;
      expect(Number(line[csv[0]!.indexOf('messagesOut')])).toBe(row.messagesOut);
      expect(Number(line[csv[0]!.indexOf('transferred')])).toBe(row.transferred);
      expect(Number(line[csv[0]!.indexOf('firstResponseCount')])).toBe(row.firstResponse.count);
    }
    expect(csv.length - 1).toBe(report.rows.length);

    // The URL works once.
    const again = await fetch(base() + link.path);
    expect(again.status).toBe(410);
    expect(await again.json()).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND', reason: 'USED' } }] });
    expect(codeOf(await call.send(o.admin.token, URL_FOR, { id }))).toBe('CONFLICT');

    const reads = (await call.ok(o.auditor.token, `query($w: ID, $u: ID) { readAudit(workspaceId: $w, actorUserId: $u, first: 50) { edges { node { action targetType targetId sessionId } } } }`, { w: o.W.id, u: o.admin.id }))
      .readAudit.edges.map((e: any) => e.node);
    expect(reads).toContainEqual(expect.objectContaining({ action: 'report.conversations', targetType: 'Workspace', targetId: o.W.id }));
    expect(reads).toContainEqual(expect.objectContaining({ action: 'export.start', targetType: 'Export', targetId: id }));
    expect(reads).toContainEqual(expect.objectContaining({ action: 'export.download', targetType: 'Export', targetId: id }));
    expect(reads.find((r: any) => r.action === 'export.download').sessionId).toBeTruthy();
    const audit = (await call.ok(o.auditor.token, `query($w: ID!) { auditLog(workspaceId: $w, first: 50) { edges { node { action targetId } } } }`, { w: o.W.id })).auditLog.edges.map((e: any) => e.node);
    expect(audit).toContainEqual({ action: 'export.start', targetId: id });
  });

  it('exports contacts as JSON Lines; an expired link and a wrong token are refused', async () => {
    const { id, events } = await exportAndFollow(o.admin.token, { workspaceId: o.W.id, kind: 'CONTACTS', format: 'JSONL' });
    const contacts = await server.app.orm.em.fork().getConnection().execute<Array<{ n: string }>>(`select count(*) as n from contacts where organization_id = ? and workspace_id = ?`, [o.org.id, o.W.id]);
    expect(events.at(-1)).toMatchObject({ status: 'DONE', rowsWritten: Number(contacts[0]!.n) });

    const link = (await call.ok(o.admin.token, URL_FOR, { id })).createExportDownloadUrl;
    const wrong = link.path.replace(/[^/]{43}$/, 'A'.repeat(43));
    const miss = await fetch(base() + wrong);
    expect(miss.status).toBe(404);
    expect(await miss.json()).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });

    await server.app.orm.em.fork().getConnection().execute(`update exports set download_expires_at = now() - interval '1 second' where id = ?`, [id]);
    const expired = await fetch(base() + link.path);
    expect(expired.status).toBe(410);
    expect(await expired.json()).toMatchObject({ errors: [{ extensions: { reason: 'EXPIRED' } }] });

    // A fresh link works, and the file is JSON Lines with one contact per line.
    // Three requests race for it: exactly one gets the file.
    const fresh = (await call.ok(o.admin.token, URL_FOR, { id })).createExportDownloadUrl;
    const raced = await Promise.all([0, 1, 2].map(() => fetch(base() + fresh.path)));
    expect(raced.map((r) => r.status).sort()).toEqual([200, 410, 410]);
    const res = raced.find((r) => r.status === 200)!;
    await Promise.all(raced.filter((r) => r !== res).map((r) => r.text()));
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(Number(contacts[0]!.n));
    expect(Object.keys(lines[0])).toEqual(['id', 'firstName', 'lastName', 'phone', 'email', 'customFields', 'mergedIntoId', 'createdAt', 'updatedAt']);
  });

  it('expires an export nobody downloaded within the retention: its file is deleted', async () => {
    const { id } = await exportAndFollow(o.admin.token, { workspaceId: o.W.id, kind: 'OPT_OUTS', format: 'CSV' });
    const file = server.app.services.exports.filePath(o.org.id, id, 'CSV' as never);
    expect(fs.existsSync(file)).toBe(true);
    const link = (await call.ok(o.admin.token, URL_FOR, { id })).createExportDownloadUrl;
    await server.app.orm.em.fork().getConnection().execute(`update exports set finished_at = now() - interval '73 hours' where id = ?`, [id]);
    expect(await server.app.services.exports.expireFiles()).toBeGreaterThanOrEqual(1);
    expect(fs.existsSync(file)).toBe(false);
    expect((await call.ok(o.admin.token, `query($id: ID!) { export(id: $id) { status } }`, { id })).export.status).toBe('EXPIRED');
    expect((await fetch(base() + link.path)).status).toBe(410);
    expect(codeOf(await call.send(o.admin.token, URL_FOR, { id }))).toBe('CONFLICT');
  });

  it('exports threads with their messages, one row per message', async () => {
    const { events } = await exportAndFollow(o.admin.token, { workspaceId: o.W.id, kind: 'THREADS', format: 'CSV' });
    const n = await server.app.orm.em.fork().getConnection().execute<Array<{ n: string }>>(`select count(*) as n from messages where organization_id = ? and workspace_id = ?`, [o.org.id, o.W.id]);
    expect(events.at(-1)).toMatchObject({ status: 'DONE', rowsWritten: Number(n[0]!.n) });
  });

  it('refuses an export without the permission to read what it holds, or without REPORTS_EXPORT', async () => {
    // A stakeholder holds REPORTS_EXPORT but not REPORTS_PAYMENTS (nor the audit log).
    const stakeholder = await o.org.login(await o.org.user('Stakeholder', [{ workspace: o.W, roles: [Role.STAKEHOLDER] }]));
    for (const kind of ['PAYMENT_REPORT', 'AUDIT_LOG']) {
      const r = await call.send(stakeholder.token, START, { i: { workspaceId: o.W.id, kind, format: 'CSV', period: lastWeek } });
      expect(codeOf(r), kind).toBe('FORBIDDEN');
    }
    expect(codeOf(await call.send(stakeholder.token, START, { i: { workspaceId: o.W.id, kind: 'CONVERSATION_REPORT', format: 'CSV', period: lastWeek, groupBy: 'DAY' } }))).toBeUndefined();
    for (const who of [o.agentA, o.supervisor, o.viewer]) {
      expect(codeOf(await call.send(who.token, START, { i: { workspaceId: o.W.id, kind: 'CONTACTS', format: 'CSV' } }))).toBe('FORBIDDEN');
    }
    expect(codeOf(await call.send(o.admin.token, START, { i: { workspaceId: o.Other.id, kind: 'CONTACTS', format: 'CSV' } }))).toBe('FORBIDDEN');
  });

  it('refuses a report export without a period, changing nothing', async () => {
    const before = await server.app.orm.em.fork().getConnection().execute<Array<{ n: string }>>(`select count(*) as n from exports where organization_id = ?`, [o.org.id]);
    const r = await call.send(o.admin.token, START, { i: { workspaceId: o.W.id, kind: 'CONVERSATION_REPORT', format: 'CSV', groupBy: 'AGENT' } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    const after = await server.app.orm.em.fork().getConnection().execute<Array<{ n: string }>>(`select count(*) as n from exports where organization_id = ?`, [o.org.id]);
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('refuses exportProgress to someone without REPORTS_EXPORT in the export\'s workspace', async () => {
    const [{ id }] = await server.app.orm.em.fork().getConnection().execute<Array<{ id: string }>>(`select id from exports where organization_id = ? limit 1`, [o.org.id]);
    const client = server.wsClient({ connectionParams: { authorization: `Bearer ${o.viewer.token}` } });
    const errors = await new Promise<any[]>((resolve, reject) => {
      client.subscribe({ query: `subscription($e: ID!) { exportProgress(exportId: $e) { status } }`, variables: { e: id } }, {
        next: (v) => (v.errors ? resolve([...v.errors]) : reject(new Error('a viewer received export progress'))),
        error: (e) => resolve(Array.isArray(e) ? e : [e]),
        complete: () => resolve([]),
      });
    });
    await client.dispose();
    expect(errors[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('lets only the person who started an export download it, and lists exports to REPORTS_VIEW holders only', async () => {
    const admin2 = await o.org.login(await o.org.user('Admin 2', [{ workspace: o.W, roles: [Role.ADMIN] }]));
    const list = (await call.ok(admin2.token, `query($w: ID!) { exports(workspaceId: $w, first: 10) { edges { node { id status createdById viewerCan { download } } } } }`, { w: o.W.id })).exports.edges.map((e: any) => e.node);
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((e: any) => e.viewerCan.download === false)).toBe(true);
    const done = list.find((e: any) => e.status === 'DONE')!;
    expect(codeOf(await call.send(admin2.token, URL_FOR, { id: done.id }))).toBe('FORBIDDEN');
    expect(codeOf(await call.send(o.viewer.token, `query($w: ID!) { exports(workspaceId: $w) { edges { cursor } } }`, { w: o.W.id }))).toBe('FORBIDDEN');
    expect(codeOf(await call.send(o.agentA.token, URL_FOR, { id: done.id }))).toBe('FORBIDDEN');
  });

  it('gives the owner the conversation report across the organization (ORGANIZATION_ANALYTICS_VIEW), not a workspace admin', async () => {
    const q = `query($p: ReportPeriodInput!) { organizationConversationReport(period: $p, groupBy: AGENT) { workspaceIds total { threadsOpened } } }`;
    const r = (await call.ok(o.owner.token, q, { p: lastWeek })).organizationConversationReport;
    expect(r.workspaceIds.sort()).toEqual([o.W.id, o.Below.id, o.Other.id].sort());
    expect(r.total.threadsOpened).toBe(8);
    expect(codeOf(await call.send(o.admin.token, q, { p: lastWeek }))).toBe('FORBIDDEN');
  });
});
