import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { api } from '../support/api';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { TENANT_FILTER } from '../../server/src/db/tenant';
import type { ThreadFilter } from '../../server/src/modules/inbox/threads.service';

async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Inserts contacts, threads and messages with plain SQL (fast), unassigned and open unless told otherwise. */
async function bulkThreads(url: string, orgId: string, workspaceId: string, count: number, messagesPerThread: number, offset = 0) {
  await sql(url, `
    insert into contacts (id, created_at, organization_id, workspace_id, phone, custom_fields, updated_at)
    select gen_random_uuid(), now(), $1, $2, '+1999' || lpad((g + $4)::text, 7, '0'), '{}', now() from generate_series(1, $3) g`, [orgId, workspaceId, count, offset]);
  await sql(url, `
    insert into threads (id, created_at, organization_id, workspace_id, contact_id, status, archived, needs_response, last_activity_at, last_inbound_at)
    select gen_random_uuid(), now(), c.organization_id, c.workspace_id, c.id,
           (case when random() < 0.8 then 'OPEN' else 'CLOSED' end)::thread_status, random() < 0.1, random() < 0.5,
           now() - (random() * interval '90 days'), now() - (random() * interval '90 days')
      from contacts c where c.organization_id = $1 and c.workspace_id = $2 and c.phone like '+1999%'
       and substring(c.phone from 6)::int > $3 and substring(c.phone from 6)::int <= $3 + $4`, [orgId, workspaceId, offset, count]);
  if (messagesPerThread > 0) {
    await sql(url, `
      insert into messages (id, created_at, organization_id, workspace_id, thread_id, direction, body, status)
      select gen_random_uuid(), t.last_activity_at - (g * interval '1 minute'), t.organization_id, t.workspace_id, t.id,
             (case when g % 2 = 0 then 'INBOUND' else 'OUTBOUND' end)::message_direction,
             'message ' || g || ' about ' || (array['delivery','invoice','repair','schedule','refund'])[1 + (abs(hashtext(t.id::text)) + g) % 5],
             'DELIVERED'
        from threads t, generate_series(1, $3) g where t.organization_id = $1 and t.workspace_id = $2`, [orgId, workspaceId, messagesPerThread]);
  }
}

describe('inbox at scale', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer({ recordQueries: true });
    org = new OrgBuilder(server.app, 'Scale Co');
    W = org.workspace('Main');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  });
  afterAll(() => server.close());

  it('20 agents racing takeNextThread over 200 threads give each thread to exactly one agent', async () => {
    const Q = org.workspace('Queue');
    const agents: FixtureUser[] = [];
    for (let i = 0; i < 20; i++) agents.push(await org.login(await org.user(`Agent${i}`, [{ workspace: Q, roles: [Role.AGENT], addOns: [AddOn.SELF_ASSIGN] }])));
    await bulkThreads(server.db.url, org.id, Q.id, 200, 0, 5_000_000);
    await sql(server.db.url, `update threads set status = 'OPEN', archived = false where workspace_id = $1`, [Q.id]);

    const taken = new Map<string, string>();
    const duplicates: string[] = [];
    await Promise.all(
      agents.map(async (agent) => {
        // Bounded: 200 threads cannot take more than 200 successful turns (a bug must fail, not spin).
        for (let turn = 0; turn <= 200; turn++) {
          const d = await api(server).as(agent).ok<{ takeNextThread: { id: string } | null }>(`mutation($w: ID!) { takeNextThread(workspaceId: $w) { id } }`, { w: Q.id });
          const t = d.takeNextThread;
          if (!t) return;
          if (taken.has(t.id)) duplicates.push(t.id);
          taken.set(t.id, agent.id);
        }
      }),
    );
    expect(duplicates).toEqual([]);
    expect(taken.size).toBe(200);
    const rows = await sql<{ id: string; assignee_user_id: string }>(server.db.url, `select id, assignee_user_id from threads where workspace_id = $1`, [Q.id]);
    for (const r of rows) expect(r.assignee_user_id).toBe(taken.get(r.id));
    const perAgent = new Set(taken.values());
    console.log(`takeNextThread race: 200 threads, ${perAgent.size} agents got work, 0 duplicates`);
  }, 120_000);

  it('thread and message lists cost the same number of SQL statements whatever the page size', async () => {
    await bulkThreads(server.db.url, org.id, W.id, 120, 4, 6_000_000);
    const list = (first: number) => `{ threads(workspaceId: "${W.id}", first: ${first}) { edges { node { id status contact { displayName phone }
      tags { name } unreadCount assignmentHistory { kind } notes { body } viewerCan { send }
      messages(first: 3) { edges { node { body status } } } } } } }`;
    // Only this request's statements: the tailer's polls and other requests of the process are not counted.
    const count = async (query: string) => (await api(server).as(supervisor).statements(query)).statements.length;
    const small = await count(list(5));
    const large = await count(list(100));
    const threadId = (await sql<{ id: string }>(server.db.url, `select id from threads where workspace_id = $1 limit 1`, [W.id]))[0]!.id;
    const messagesSmall = await count(`{ thread(id: "${threadId}") { messages(first: 1) { edges { node { body } } } } }`);
    const messagesLarge = await count(`{ thread(id: "${threadId}") { messages(first: 100) { edges { node { body } } } } }`);
    console.log(`SQL statements: threads(first: 5) ${small}, threads(first: 100) ${large}; messages(first: 1) ${messagesSmall}, messages(first: 100) ${messagesLarge}`);
    expect(large).toBe(small);
    expect(messagesLarge).toBe(messagesSmall);
  }, 60_000);

  it('serves every thread filter from an index at 100k threads (no sequential scan on threads or messages)', async () => {
    await bulkThreads(server.db.url, org.id, W.id, 100_000, 2, 0);
    await sql(server.db.url, 'analyze contacts; analyze threads; analyze messages; analyze thread_tags; analyze read_cursors');
    const em = server.app.orm.em.fork();
    em.setFilterParams(TENANT_FILTER, { organizationId: org.id });
    const principal = (await server.app.services.authentication.authenticate(em, supervisor.token))!;
    const tag = await sql<{ id: string }>(server.db.url, `insert into tags (id, created_at, organization_id, workspace_id, name) values (gen_random_uuid(), now(), $1, $2, 'hot') returning id`, [org.id, W.id]);
    await sql(server.db.url, `insert into thread_tags (id, created_at, organization_id, thread_id, tag_id)
      select gen_random_uuid(), now(), organization_id, id, $2 from threads where workspace_id = $1 and random() < 0.01`, [W.id, tag[0]!.id]);
    await sql(server.db.url, 'analyze thread_tags');
    const filters: Array<[string, ThreadFilter]> = [
      ['inbox', {}],
      ['open', { status: 'OPEN' as never }],
      ['archived', { archived: true }],
      ['mine', { assignee: 'me' }],
      ['unassigned', { assignee: 'unassigned' }],
      ['group', { agentGroupId: '00000000-0000-4000-8000-000000000000' }],
      ['tag', { tagId: tag[0]!.id }],
      ['needs response', { needsResponse: true }],
      ['campaign', { campaignId: '00000000-0000-4000-8000-000000000001' }],
      ['unread', { unread: true }],
      ['search', { search: 'refund' }],
    ];
    const seqScans: string[] = [];
    for (const [name, filter] of filters) {
      const { sql: text, params } = server.app.services.threads.listQuery(principal, [], { workspaceId: W.id, filter }, 50);
      let n = 0;
      const numbered = text.replace(/\?/g, () => `$${++n}`);
      const plan = (await sql<{ 'QUERY PLAN': string }>(server.db.url, `explain ${numbered}`, params)).map((r) => r['QUERY PLAN']).join('\n');
      if (/Seq Scan on (threads|messages)/.test(plan)) seqScans.push(`${name}:\n${plan}`);
    }
    // An agent's view (assigned to them or their groups) and the message page.
    const agentView = server.app.services.threads.listQuery({ ...principal, access: { ...principal.access, can: () => false } as never }, ['00000000-0000-4000-8000-000000000002'], { workspaceId: W.id }, 50);
    let n = 0;
    const agentPlan = (await sql<{ 'QUERY PLAN': string }>(server.db.url, `explain ${agentView.sql.replace(/\?/g, () => `$${++n}`)}`, agentView.params)).map((r) => r['QUERY PLAN']).join('\n');
    if (/Seq Scan on (threads|messages)/.test(agentPlan)) seqScans.push(`agent view:\n${agentPlan}`);
    const threadId = (await sql<{ id: string }>(server.db.url, `select id from threads where workspace_id = $1 limit 1`, [W.id]))[0]!.id;
    const messagePlan = (await sql<{ 'QUERY PLAN': string }>(server.db.url, `explain select * from messages where organization_id = $1 and thread_id = $2 order by created_at desc, id desc limit 51`, [org.id, threadId])).map((r) => r['QUERY PLAN']).join('\n');
    if (/Seq Scan/.test(messagePlan)) seqScans.push(`messages page:\n${messagePlan}`);
    const count = await sql<{ n: string }>(server.db.url, 'select count(*) n from threads');
    console.log(`EXPLAIN: ${filters.length + 2} list queries over ${count[0]!.n} threads, ${seqScans.length} sequential scans`);
    expect(seqScans).toEqual([]);
  }, 300_000);
});
