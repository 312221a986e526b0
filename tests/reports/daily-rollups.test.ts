import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { bootServer, type TestServer } from '../support/server';
import { eventually } from '../support/wait';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { applyEvents } from '../../server/src/modules/reports/rollup';
import { quantileSeconds } from '../../server/src/modules/reports/histogram';
import { NONE } from '../../server/src/modules/reports/rollup-tables';
import type { LoggedEvent } from '../../server/src/realtime';
import { burst, callers, localDay, logHead, reportOrg, type ReportOrg } from './support';

const ROW = `key threadsOpened messagesIn messagesOut closed transferred notNeedingResponse
  firstResponse { count averageSeconds medianSeconds p90Seconds } resolution { count averageSeconds medianSeconds p90Seconds }`;
const REPORT = `query($w: ID!, $p: ReportPeriodInput!, $g: ReportGroupBy!, $f: ConversationReportFilter) {
  conversationReport(workspaceId: $w, period: $p, groupBy: $g, filter: $f) { rows { ${ROW} } total { ${ROW} } } }`;

const HOUR_KEY: Record<string, string> = {
  AGENT: 'agent_id::text', AGENT_GROUP: 'group_id::text', TAG: 'tag_id::text', CAMPAIGN: 'campaign_id::text',
  DAY: `to_char(hour, 'YYYY-MM-DD')`, HOUR: `to_char(hour, 'YYYY-MM-DD"T"HH24:00')`,
};

/**
 * The report as it was computed before the day rollup: from the hourly rows, a statement per (rows, total),
 * histograms summed by unnesting them per group. What the day rows must answer identically.
 */
async function fromHours(orm: MikroORM, organizationId: string, workspaceIds: string[], period: { from: string; to: string }, groupBy: string, f: { tagId?: string; agentIds?: string[] } = {}) {
  const end = new Date(Date.parse(`${period.to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const where = [`organization_id = ?`, `workspace_id = any(?::uuid[])`, `hour >= ?::timestamp`, `hour < ?::timestamp`];
  const params: unknown[] = [organizationId, `{${workspaceIds.join(',')}}`, `${period.from} 00:00:00`, `${end} 00:00:00`];
  if (f.agentIds) {
    where.push('agent_id = any(?::uuid[])');
    params.push(`{${f.agentIds.join(',')}}`);
  }
  const aggregate = async (key: string, perTag: boolean) => {
    const tag = f.tagId ? ['tag_id = ?', f.tagId] : perTag ? ['tag_id <> ?', NONE] : ['tag_id = ?', NONE];
    const rows = await orm.em.fork().getConnection().execute<Array<Record<string, any>>>(
      `with r as (select ${key} as key, * from conversation_rollups where ${where.join(' and ')} and ${tag[0]}),
            c as (select key, sum(threads_opened) as threads_opened, sum(messages_in) as messages_in, sum(messages_out) as messages_out,
                         sum(closed) as closed, sum(transferred) as transferred, sum(no_response) as no_response,
                         sum(first_response_count) as first_response_count, sum(first_response_ms) as first_response_ms,
                         sum(resolution_count) as resolution_count, sum(resolution_ms) as resolution_ms from r group by key),
            h as (select key, u.i, sum(u.f) as f, sum(u.s) as s from r, unnest(r.first_response_hist, r.resolution_hist) with ordinality as u(f, s, i) group by key, u.i),
            ha as (select key, array_agg(f order by i) as fh, array_agg(s order by i) as rh from h group by key)
       select c.*, ha.fh, ha.rh from c join ha using (key) order by c.key`,
      [...params, tag[1]],
    );
    return rows.map((r) => {
      const stats = (count: number, ms: number, hist: number[]) => ({
        count, averageSeconds: count ? ms / count / 1000 : null, medianSeconds: quantileSeconds(hist, 0.5), p90Seconds: quantileSeconds(hist, 0.9),
      });
      return {
        key: r.key === NONE || r.key === '' ? null : r.key,
        threadsOpened: Number(r.threads_opened), messagesIn: Number(r.messages_in), messagesOut: Number(r.messages_out), closed: Number(r.closed),
        transferred: Number(r.transferred), notNeedingResponse: Number(r.no_response),
        firstResponse: stats(Number(r.first_response_count), Number(r.first_response_ms), r.fh.map(Number)),
        resolution: stats(Number(r.resolution_count), Number(r.resolution_ms), r.rh.map(Number)),
      };
    });
  };
  const rows = await aggregate(HOUR_KEY[groupBy]!, groupBy === 'TAG');
  const [total] = await aggregate(`''`, false);
  const empty = { count: 0, averageSeconds: null, medianSeconds: null, p90Seconds: null };
  return {
    rows,
    total: total ?? { key: null, threadsOpened: 0, messagesIn: 0, messagesOut: 0, closed: 0, transferred: 0, notNeedingResponse: 0, firstResponse: empty, resolution: empty },
  };
}

/** A synthetic thread's life, as the event log would carry it: opened by an inbound message, answered, closed. */
function threadLife(o: ReportOrg, workspaceId: string, openedAt: Date, replyAfterS: number, closeAfterS: number, agentId: string): LoggedEvent[] {
  const threadId = randomUUID();
  const iso = (s: number) => new Date(openedAt.getTime() + s * 1000).toISOString();
  const thread = (status: string) => ({ id: threadId, status, archived: false, needsResponse: status !== 'CLOSED', assigneeUserId: agentId, assigneeGroupId: null, lastActivityAt: iso(0), campaignId: null });
  const message = (direction: string, at: number) => ({ id: randomUUID(), direction, body: 'hello', status: 'DELIVERED', authorId: direction === 'OUTBOUND' ? agentId : null, automated: false, createdAt: iso(at) });
  const base = { organizationId: o.org.id, workspaceId, threadId, cursor: '', xid: '0', id: '0' };
  return [
    { ...base, type: 'THREAD_CREATED', occurredAt: iso(0), payload: { thread: thread('OPEN'), message: message('INBOUND', 0) } },
    { ...base, type: 'MESSAGE_ADDED', occurredAt: iso(replyAfterS), payload: { thread: thread('OPEN'), message: message('OUTBOUND', replyAfterS) } },
    { ...base, type: 'THREAD_UPDATED', occurredAt: iso(closeAfterS), payload: { thread: thread('CLOSED') } },
  ] as LoggedEvent[];
}

describe('the per-day rollup', () => {
  let server: TestServer;
  const channel = new SandboxProvider(null);
  let o: ReportOrg;
  let call: ReturnType<typeof callers>;
  let period: { from: string; to: string };

  beforeAll(async () => {
    server = await bootServer({ channel });
    call = callers(server);
    o = await reportOrg(server, 'Daily Co');
    // The annex keeps Kolkata time: a half-hour offset puts local midnight inside a UTC hour.
    await call.ok(o.admin.token, `mutation($w: ID!) { setOfficeHours(workspaceId: $w, timeZone: "Asia/Kolkata", weeklyHours: null) { timeZone } }`, { w: o.Below.id });
    await burst(server, o, channel, 10, 0);
    const head = await logHead(server.app.orm);
    await eventually(() => server.app.rollups!.position(), (p) => p.xid === head.xid && p.id === head.id, { what: 'the rollup worker caught up with the log' });
    // Threads either side of local midnight on 2026-11-20: Chicago (UTC-6) at 06:00Z, Kolkata (UTC+5:30) at 18:30Z the day before.
    const lives = [
      threadLife(o, o.W.id, new Date('2026-11-20T05:58:00Z'), 90, 600, o.agentA.id),
      threadLife(o, o.W.id, new Date('2026-11-20T06:01:00Z'), 400, 1900, o.agentB.id),
      threadLife(o, o.Below.id, new Date('2026-11-19T18:29:00Z'), 45, 4000, o.agentA.id),
      threadLife(o, o.Below.id, new Date('2026-11-19T18:31:00Z'), 20, 30, o.agentB.id),
      threadLife(o, o.Below.id, new Date('2026-11-19T18:20:00Z'), 700, 3000, o.agentB.id),
    ];
    await server.app.orm.em.fork().transactional((tx) => applyEvents(tx, lives.flat()));
    period = { from: '2026-11-18', to: localDay('America/Chicago', 1) };
  });
  afterAll(() => server.close());

  it('holds the hourly counters summed per local day', async () => {
    const [diff] = await server.app.orm.em.fork().getConnection().execute<Array<{ n: string }>>(
      `select count(*) as n from (
         select organization_id, workspace_id, hour::date as day, agent_id, group_id, campaign_id, tag_id, sum(messages_in) as i, sum(messages_out) as o,
                sum(threads_opened) as t, sum(first_response_ms) as f, sum(resolution_count) as r
           from conversation_rollups where organization_id = ? group by 1, 2, 3, 4, 5, 6, 7
         except
         select organization_id, workspace_id, day, agent_id, group_id, campaign_id, tag_id, messages_in, messages_out, threads_opened, first_response_ms, resolution_count
           from conversation_rollups_daily where organization_id = ?) d`,
      [o.org.id, o.org.id],
    );
    expect(Number(diff!.n)).toBe(0);
  });

  it.each([
    ['AGENT', {}],
    ['AGENT_GROUP', {}],
    ['TAG', {}],
    ['CAMPAIGN', {}],
    ['DAY', {}],
    ['HOUR', {}],
    ['DAY', { agentIds: ['AGENT_A'] }],
    ['AGENT', { tagId: 'TAG' }],
    ['TAG', { tagId: 'TAG' }],
  ] as const)('answers %s %j as the hourly rows do, over a subtree', async (groupBy, filter) => {
    const f = {
      ...('agentIds' in filter ? { agentIds: [o.agentA.id] } : {}),
      ...('tagId' in filter ? { tagId: o.tagId } : {}),
    };
    const r = await call.ok(o.admin.token, REPORT, { w: o.W.id, p: period, g: groupBy, f: { ...f, subtree: true } });
    const expected = await fromHours(server.app.orm, o.org.id, [o.W.id, o.Below.id], period, groupBy, f);
    expect(r.conversationReport).toEqual(expected);
    expect(expected.total.threadsOpened + expected.total.messagesOut).toBeGreaterThan(0);
  });

  it('cuts days at local midnight in each workspace time zone', async () => {
    const days = async (w: string) =>
      Object.fromEntries((await call.ok(o.admin.token, REPORT, { w, p: { from: '2026-11-19', to: '2026-11-20' }, g: 'DAY' })).conversationReport.rows
        .map((r: any) => [r.key, [r.threadsOpened, r.closed, r.firstResponse.count]]));
    // Chicago: 05:58Z is 23:58 on the 19th (answered then, closed at 06:08Z: the 20th), 06:01Z 00:01 on the 20th.
    expect(await days(o.W.id)).toEqual({ '2026-11-19': [1, 0, 1], '2026-11-20': [1, 2, 1] });
    // Kolkata: 18:20Z and 18:29Z are before midnight (the 18:20 one answered at 18:31Z, after it), 18:31Z after;
    // the 18:29 one closed at 19:35Z (the 20th).
    expect(await days(o.Below.id)).toEqual({ '2026-11-19': [2, 0, 1], '2026-11-20': [1, 3, 2] });
  });
});
