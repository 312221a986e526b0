import type { MikroORM } from '@mikro-orm/postgresql';
import { api, type Variables } from '../support/api';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import type { TestServer } from '../support/server';
import { eventually } from '../support/wait';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { safeHead } from '../../server/src/realtime/event-log';
import type { SandboxProvider } from '../../server/src/modules/inbox/channel';

export interface ReportOrg {
  org: OrgBuilder;
  W: Workspace;
  Below: Workspace;
  Other: Workspace;
  owner: FixtureUser;
  admin: FixtureUser;
  supervisor: FixtureUser;
  agentA: FixtureUser;
  agentB: FixtureUser;
  auditor: FixtureUser;
  viewer: FixtureUser;
  ingestKey: string;
  tagId: string;
}

export function callers(server: TestServer) {
  const ok = (token: string, query: string, variables?: Variables) => api(server).as(token).ok<Record<string, any>>(query, variables);
  const send = (token: string, query: string, variables?: Variables) => api(server).as(token).send(query, variables);
  return { ok, send };
}

/** An organization with a workspace W (Chicago time), one below it, a sibling, and a person per role. */
export async function reportOrg(server: TestServer, name: string): Promise<ReportOrg> {
  const { ok } = callers(server);
  const org = new OrgBuilder(server.app, name);
  const W = org.workspace('Depot');
  const Below = org.workspace('Depot annex', W);
  const Other = org.workspace('Elsewhere');
  const owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
  const admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
  const supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  const agentA = await org.login(await org.user('Agent A', [{ workspace: W, roles: [Role.AGENT] }]));
  const agentB = await org.login(await org.user('Agent B', [{ workspace: W, roles: [Role.AGENT] }]));
  const auditor = await org.login(await org.user('Auditor', [{ workspace: W, roles: [Role.AUDITOR] }]));
  const viewer = await org.login(await org.user('Viewer', [{ workspace: W, roles: [Role.VIEWER] }]));
  const key = await ok(admin.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gateway", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id });
  await ok(admin.token, `mutation($w: ID!) { setOfficeHours(workspaceId: $w, timeZone: "America/Chicago", weeklyHours: null) { timeZone } }`, { w: W.id });
  const tag = await ok(admin.token, `mutation($w: ID!) { createTag(workspaceId: $w, name: "billing") { id } }`, { w: W.id });
  return { org, W, Below, Other, owner, admin, supervisor, agentA, agentB, auditor, viewer, ingestKey: key.createApiKey.secret, tagId: tag.createTag.id };
}

/**
 * A burst through the API: `n` contacts write in at once; threads go to agent A or B; agents reply; every third
 * thread is transferred to the other agent, every fourth closed, every fifth unanswered one marked as not
 * needing a response, every second tagged; then the channel reports delivery of every reply.
 */
export async function burst(server: TestServer, o: ReportOrg, channel: SandboxProvider, n: number, offset: number): Promise<void> {
  const { ok } = callers(server);
  const idx = [...Array(n).keys()].map((i) => i + offset);
  const threads = await Promise.all(
    idx.map(async (i) => {
      const r = await ok(o.ingestKey, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, {
        i: { workspaceId: o.W.id, from: `+1555300${String(i).padStart(4, '0')}`, body: `Hello ${i}` },
      });
      return { i, id: r.ingestInboundMessage.threadId as string };
    }),
  );
  const agentOf = (i: number) => (i % 2 ? o.agentA : o.agentB);
  await Promise.all(threads.map((t) => ok(o.supervisor.token, `mutation($t: ID!, $u: ID) { assignThread(threadId: $t, userId: $u) { id } }`, { t: t.id, u: agentOf(t.i).id })));
  await Promise.all(threads.filter((t) => t.i % 2 === 0).map((t) => ok(o.supervisor.token, `mutation($t: ID!, $g: ID!) { applyTag(threadId: $t, tagId: $g) { id } }`, { t: t.id, g: o.tagId })));
  const answered = threads.filter((t) => t.i % 5 !== 0);
  await Promise.all(answered.map((t) => ok(agentOf(t.i).token, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "On it" }) { id } }`, { t: t.id })));
  await Promise.all(answered.map((t) => ok(o.ingestKey, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, {
    i: { workspaceId: o.W.id, from: `+1555300${String(t.i).padStart(4, '0')}`, body: 'Thanks' },
  })));
  await Promise.all(threads.filter((t) => t.i % 3 === 0).map((t) =>
    ok(o.supervisor.token, `mutation($t: ID!, $u: ID) { transferThread(threadId: $t, toUserId: $u, reason: "shift") { id } }`, { t: t.id, u: agentOf(t.i + 1).id })));
  await Promise.all(threads.filter((t) => t.i % 5 === 0).map((t) => ok(o.supervisor.token, `mutation($t: ID!) { markNoResponseNeeded(threadId: $t) { id } }`, { t: t.id })));
  await Promise.all(threads.filter((t) => t.i % 4 === 0).map((t) => ok(o.supervisor.token, `mutation($t: ID!) { closeThread(threadId: $t) { id } }`, { t: t.id })));
  channel.flushReceipts();
  await eventually(
    () => count(server.app.orm, `select count(*) as n from messages where organization_id = ? and direction = 'OUTBOUND' and status not in ('DELIVERED', 'FAILED')`, [o.org.id]),
    (left) => left === 0,
    { what: 'every delivery receipt applied' },
  );
}

async function count(orm: MikroORM, sql: string, params: unknown[]): Promise<number> {
  const rows = await orm.em.fork().getConnection().execute<Array<{ n: string }>>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

export interface Totals {
  threadsOpened: number;
  messagesIn: number;
  messagesOut: number;
  delivered: number;
  closed: number;
  transferred: number;
  notNeedingResponse: number;
  firstResponses: number;
  firstResponseMs: number;
  resolutions: number;
  resolutionMs: number;
}

/**
 * The same numbers by a hand-written scan of the source tables (threads, messages, assignment events, the
 * audit log): what the rollups must equal.
 */
export async function scan(orm: MikroORM, organizationId: string, agentId?: string): Promise<Totals> {
  const conn = orm.em.fork().getConnection();
  const [r] = await conn.execute<Array<Record<string, string>>>(
    `with m as (select * from messages where organization_id = ?),
          firsts as (
            select t.id, (select min(created_at) from m where m.thread_id = t.id and m.direction = 'INBOUND') as first_in,
                   t.assignee_user_id
              from threads t where t.organization_id = ?),
          replies as (
            select f.id, (select m.created_at from m where m.thread_id = f.id and m.direction = 'OUTBOUND' and m.author_id is not null and not m.automated
                            and m.created_at >= f.first_in order by m.created_at limit 1) as reply_at,
                         (select m.author_id from m where m.thread_id = f.id and m.direction = 'OUTBOUND' and m.author_id is not null and not m.automated
                            and m.created_at >= f.first_in order by m.created_at limit 1) as reply_by, f.first_in
              from firsts f),
          closes as (
            select a.created_at, a.target_id::uuid as thread_id from audit_log a
             where a.organization_id = ? and a.action = 'thread.update' and a.after->>'status' = 'CLOSED' and a.before->>'status' <> 'CLOSED')
     select
       (select count(*) from threads where organization_id = ?) as threads_opened,
       (select count(*) from m where direction = 'INBOUND') as messages_in,
       (select count(*) from m where direction = 'OUTBOUND' and (?::uuid is null or author_id = ?::uuid)) as messages_out,
       (select count(*) from m where direction = 'OUTBOUND' and status = 'DELIVERED' and (?::uuid is null or author_id = ?::uuid)) as delivered,
       (select count(*) from closes) as closed,
       (select count(*) from assignment_events where organization_id = ? and kind = 'transfer' and (?::uuid is null or from_user_id = ?::uuid)) as transferred,
       (select count(*) from audit_log where organization_id = ? and action = 'thread.update' and (before->>'needsResponse')::boolean and not (after->>'needsResponse')::boolean) as no_response,
       (select count(*) from replies where reply_at is not null and (?::uuid is null or reply_by = ?::uuid)) as first_responses,
       (select coalesce(sum(extract(epoch from reply_at - first_in) * 1000), 0) from replies where reply_at is not null and (?::uuid is null or reply_by = ?::uuid)) as first_response_ms,
       (select count(*) from closes) as resolutions,
       (select coalesce(sum(extract(epoch from c.created_at - (select min(created_at) from m where m.thread_id = c.thread_id)) * 1000), 0) from closes c) as resolution_ms`,
    [organizationId, organizationId, organizationId, organizationId, agentId ?? null, agentId ?? null, agentId ?? null, agentId ?? null, organizationId, agentId ?? null, agentId ?? null, organizationId,
      agentId ?? null, agentId ?? null, agentId ?? null, agentId ?? null],
  );
  return {
    threadsOpened: Number(r!.threads_opened),
    messagesIn: Number(r!.messages_in),
    messagesOut: Number(r!.messages_out),
    delivered: Number(r!.delivered),
    closed: Number(r!.closed),
    transferred: Number(r!.transferred),
    notNeedingResponse: Number(r!.no_response),
    firstResponses: Number(r!.first_responses),
    firstResponseMs: Math.round(Number(r!.first_response_ms)),
    resolutions: Number(r!.resolutions),
    resolutionMs: Math.round(Number(r!.resolution_ms)),
  };
}

/** The rollups' totals for an organization (the all-tags rows), optionally for one agent. */
export async function rollupTotals(orm: MikroORM, organizationId: string, agentId?: string): Promise<Totals> {
  const [r] = await orm.em.fork().getConnection().execute<Array<Record<string, string>>>(
    `select coalesce(sum(threads_opened), 0) as a, coalesce(sum(messages_in), 0) as b, coalesce(sum(messages_out), 0) as c, coalesce(sum(delivered), 0) as d,
            coalesce(sum(closed), 0) as e, coalesce(sum(transferred), 0) as f, coalesce(sum(no_response), 0) as g,
            coalesce(sum(first_response_count), 0) as h, coalesce(sum(first_response_ms), 0) as i, coalesce(sum(resolution_count), 0) as j, coalesce(sum(resolution_ms), 0) as k
       from conversation_rollups where organization_id = ? and tag_id = '00000000-0000-0000-0000-000000000000' and (?::uuid is null or agent_id = ?::uuid)`,
    [organizationId, agentId ?? null, agentId ?? null],
  );
  return {
    threadsOpened: Number(r!.a), messagesIn: Number(r!.b), messagesOut: Number(r!.c), delivered: Number(r!.d), closed: Number(r!.e), transferred: Number(r!.f),
    notNeedingResponse: Number(r!.g), firstResponses: Number(r!.h), firstResponseMs: Number(r!.i), resolutions: Number(r!.j), resolutionMs: Number(r!.k),
  };
}

/** The newest event of the log, once it is committed (what a caught-up worker's cursor equals). */
export async function logHead(orm: MikroORM): Promise<{ xid: string; id: string }> {
  const rows = await orm.em.fork().getConnection().execute<Array<{ xid: string; id: string }>>(`select xid::text as xid, id::text as id from events order by xid desc, id desc limit 1`);
  return rows[0] ?? { xid: '0', id: '0' };
}

/** Resolves once every event of the log is below the safe line (no event writer is still running). */
export async function quiet(orm: MikroORM): Promise<void> {
  await eventually(
    async () => [await safeHead(orm.em.fork()), await logHead(orm)],
    ([safe, head]) => safe!.xid === head!.xid && safe!.id === head!.id,
    { what: 'every event writer finished' },
  );
}

/** Local calendar day in a time zone, `days` from today. */
export function localDay(timeZone: string, days = 0): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(Date.now() + days * 86_400_000));
}
