/**
 * The benchmark data set: one organization with 20 workspaces, 200 agents, 100k contacts, 100k threads and
 * 1M messages (quick: a tenth), built with set-based SQL in a database of its own and reused while its spec
 * is unchanged (a marker row is written last, so an interrupted load is rebuilt).
 */
import pg from 'pg';
import pino from 'pino';
import { initOrm, migrateUp } from '../../server/src/db/orm';
import { hashToken, newToken } from '../../server/src/modules/identity/secrets';
import type { BenchContext } from './report';
import { createMigratedDatabase, databaseExists, databaseUrl, sql } from './setup';

export interface DatasetSpec {
  workspaces: number;
  agents: number;
  contacts: number;
  threads: number;
  messagesPerThread: number;
}

export interface Dataset {
  databaseUrl: string;
  organizationId: string;
  workspaceIds: string[];
  counts: { workspaces: number; agents: number; contacts: number; threads: number; messages: number };
  /** Null when an existing data set was reused. */
  generatedMs: number | null;
}

const VERSION = 3;
export const SPECS: Record<'full' | 'quick', DatasetSpec> = {
  full: { workspaces: 20, agents: 200, contacts: 100_000, threads: 100_000, messagesPerThread: 10 },
  quick: { workspaces: 20, agents: 200, contacts: 10_000, threads: 10_000, messagesPerThread: 10 },
};

const WORDS = `'{delivery,invoice,repair,schedule,refund,order,driver,window,address,payment,tomorrow,morning,late,thanks,cancel,confirm,price,quote,warranty,pickup}'::text[]`;

/** Each step in its own statement, so progress can be reported; $1 organization, $2 spec values as needed. */
function steps(spec: DatasetSpec): Array<[string, string, unknown[]]> {
  const { workspaces, agents, contacts, threads, messagesPerThread } = spec;
  return [
    ['organization', `insert into organizations (id, name) values ($1, 'Bench Logistics')`, []],
    ['workspaces', `insert into workspaces (id, organization_id, name) select gen_random_uuid(), $1, 'Depot ' || g from generate_series(1, ${workspaces}) g`, []],
    [
      'users',
      `with ws as (select id, row_number() over (order by name) - 1 as i from workspaces where organization_id = $1),
            u as (
              insert into users (id, organization_id, name, email, status, availability)
              select gen_random_uuid(), $1, 'Agent ' || g, 'agent-' || g || '@bench.test', 'ACTIVE'::user_status, (array['ONLINE','AWAY','OFFLINE'])[1 + g % 3]::availability from generate_series(0, ${agents - 1}) g
              union all select gen_random_uuid(), $1, 'Supervisor ' || g, 'supervisor-' || g || '@bench.test', 'ACTIVE'::user_status, 'ONLINE'::availability from generate_series(0, ${workspaces - 1}) g
              union all select gen_random_uuid(), $1, 'Owner', 'owner@bench.test', 'ACTIVE'::user_status, 'ONLINE'::availability
              returning id, email)
       insert into memberships (id, organization_id, user_id, workspace_id, roles, add_ons)
       select gen_random_uuid(), $1, u.id,
              case when u.email like 'owner%' then null else (select id from ws where ws.i = (substring(u.email from '-(\\d+)@')::int % ${workspaces})) end,
              case when u.email like 'agent%' then '{AGENT}'::role[] when u.email like 'supervisor%' then '{SUPERVISOR}'::role[] else '{OWNER}'::role[] end,
              case when u.email like 'agent%' then '{SELF_ASSIGN}'::add_on[] else '{}'::add_on[] end
         from u`,
      [],
    ],
    [
      'agent groups',
      `with g as (
         insert into agent_groups (id, organization_id, workspace_id, name)
         select gen_random_uuid(), $1, w.id, team from workspaces w, unnest(array['Day shift','Night shift']) team where w.organization_id = $1
         returning id, workspace_id, name)
       insert into agent_group_members (id, organization_id, group_id, user_id)
       select gen_random_uuid(), $1, g.id, m.user_id from g
         join memberships m on m.organization_id = $1 and m.workspace_id = g.workspace_id and 'AGENT' = any(m.roles)
         join users u on u.id = m.user_id
        where (g.name = 'Day shift') = (substring(u.email from '-(\\d+)@')::int % 2 = 0)`,
      [],
    ],
    ['tags', `insert into tags (id, organization_id, workspace_id, name) select gen_random_uuid(), $1, w.id, t from workspaces w, unnest(array['vip','billing','damaged','reschedule','new','complaint','follow-up','wholesale','fragile','urgent']) t where w.organization_id = $1`, []],
    [
      'contacts',
      `with ws as (select id, row_number() over (order by name) - 1 as i from workspaces where organization_id = $1)
       insert into contacts (id, organization_id, workspace_id, first_name, last_name, phone, custom_fields)
       select gen_random_uuid(), $1, ws.id, (array['Ana','Ben','Chen','Dara','Eli','Fatima','Gus','Hana','Ivan','Jo'])[1 + g % 10],
              (array['Silva','Okafor','Nguyen','Smith','Haddad','Kowalski','Rossi','Tanaka'])[1 + g % 8], '+1888' || lpad(g::text, 7, '0'), '{}'
         from generate_series(0, ${contacts - 1}) g join ws on ws.i = g % ${workspaces}`,
      [],
    ],
    [
      'threads',
      `with agents as (
         select m.workspace_id, m.user_id, row_number() over (partition by m.workspace_id order by m.user_id) - 1 as i, count(*) over (partition by m.workspace_id) as n
           from memberships m where m.organization_id = $1 and 'AGENT' = any(m.roles)),
       groups as (select workspace_id, id, row_number() over (partition by workspace_id order by name) - 1 as i from agent_groups where organization_id = $1),
       c as (select id, workspace_id, row_number() over (order by phone) as g from contacts where organization_id = $1 limit ${threads}),
       t as (select c.*, h, now() - (h % 129600) * interval '1 minute' as activity
               from c, lateral (select abs(hashtext(c.id::text)) as h) hh)
       -- Every attribute from its own digits of one hash, so they are independent of each other and of the workspace.
       insert into threads (id, organization_id, workspace_id, contact_id, status, snoozed_until, archived, assignee_user_id, assignee_group_id,
                            needs_response, last_activity_at, last_inbound_at, first_response_at, last_message_preview, created_at)
       select gen_random_uuid(), $1, t.workspace_id, t.id,
              (case when t.h % 10 < 7 then 'OPEN' when t.h % 10 = 7 then 'SNOOZED' else 'CLOSED' end)::thread_status,
              case when t.h % 10 = 7 then now() + interval '1 day' end,
              (t.h / 10) % 20 = 0,
              case when (t.h / 200) % 5 < 2 then (select a.user_id from agents a where a.workspace_id = t.workspace_id and a.i = (t.h / 1000) % a.n) end,
              case when (t.h / 200) % 5 = 2 then (select gr.id from groups gr where gr.workspace_id = t.workspace_id and gr.i = (t.h / 1000) % 2) end,
              (t.h / 100000) % 5 in (0, 2, 3), t.activity, t.activity, t.activity - interval '1 hour' + interval '3 minutes',
              'Your ' || (${WORDS})[1 + t.h % 20] || ' is confirmed for ' || (${WORDS})[1 + (t.h / 20) % 20],
              t.activity - interval '${messagesPerThread} hours'
         from t`,
      [],
    ],
    [
      'messages',
      `insert into messages (id, organization_id, workspace_id, thread_id, direction, body, status, created_at)
       select gen_random_uuid(), t.organization_id, t.workspace_id, t.id,
              (case when k % 2 = 0 then 'INBOUND' else 'OUTBOUND' end)::message_direction,
              'About the ' || (${WORDS})[1 + (abs(hashtext(t.id::text)) + k) % 20] || ' ' || (${WORDS})[1 + (abs(hashtext(t.id::text)) / 7 + k * 3) % 20]
                || ', message ' || k || ' of ' || ${messagesPerThread},
              (case when k % 2 = 0 then 'RECEIVED' else 'DELIVERED' end)::delivery_status,
              t.last_activity_at - (${messagesPerThread} - k) * interval '1 hour'
         from threads t, generate_series(1, ${messagesPerThread}) k where t.organization_id = $1`,
      [],
    ],
    [
      'thread tags',
      `insert into thread_tags (id, organization_id, thread_id, tag_id)
       select gen_random_uuid(), $1, t.id, (select tg.id from tags tg where tg.workspace_id = t.workspace_id order by tg.name offset (abs(hashtext(t.id::text)) / 7 % 10) limit 1)
         from threads t where t.organization_id = $1 and abs(hashtext(t.id::text)) % 10 < 3`,
      [],
    ],
    [
      'read cursors',
      `insert into read_cursors (id, organization_id, user_id, thread_id, read_at)
       select gen_random_uuid(), $1, m.user_id, t.id, t.last_activity_at - case when abs(hashtext(t.id::text)) % 2 = 0 then interval '0' else interval '2 hours' end
         from threads t join memberships m on m.organization_id = $1 and m.workspace_id = t.workspace_id and 'SUPERVISOR' = any(m.roles)
        where t.organization_id = $1 and abs(hashtext(t.id::text)) % 4 < 3`,
      [],
    ],
  ];
}

async function load(url: string, spec: DatasetSpec, ctx: BenchContext): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const [{ id }] = (await client.query<{ id: string }>('select gen_random_uuid() as id')).rows as [{ id: string }];
    for (const [name, text] of steps(spec)) {
      const t0 = Date.now();
      const r = await client.query(text, [id]);
      ctx.log(`dataset: ${name}: ${r.rowCount ?? 0} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const t0 = Date.now();
    await client.query('vacuum analyze');
    ctx.log(`dataset: vacuum analyze in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await client.query(`create table if not exists bench_dataset (spec text primary key, completed_at timestamptz not null default now())`);
    await client.query(`insert into bench_dataset (spec) values ($1)`, [JSON.stringify({ VERSION, ...spec })]);
  } finally {
    await client.end();
  }
}

async function describe(url: string, generatedMs: number | null): Promise<Dataset> {
  const [org] = await sql<{ id: string }>(url, 'select id from organizations limit 1');
  const workspaces = await sql<{ id: string }>(url, 'select id from workspaces where organization_id = $1 order by name', [org!.id]);
  const [counts] = await sql<Record<string, string>>(
    url,
    `select (select count(*) from memberships where 'AGENT' = any(roles)) as agents, (select count(*) from contacts) as contacts,
            (select count(*) from threads) as threads, (select count(*) from messages) as messages`,
  );
  return {
    databaseUrl: url,
    organizationId: org!.id,
    workspaceIds: workspaces.map((w) => w.id),
    counts: { workspaces: workspaces.length, agents: Number(counts!.agents), contacts: Number(counts!.contacts), threads: Number(counts!.threads), messages: Number(counts!.messages) },
    generatedMs,
  };
}

/**
 * Applies the migrations committed since the reused data set was built (new tables and columns; their own
 * backfills run on the data set's rows), so a data set outlives schema changes that do not change its spec.
 */
export async function migrateDataset(ctx: BenchContext, url: string): Promise<void> {
  const orm = await initOrm({ databaseUrl: url, logger: pino({ level: 'silent' }) });
  try {
    const t0 = Date.now();
    const applied = await migrateUp(orm);
    if (applied.length) {
      // A migration may rewrite or fill tables: fresh statistics, as a built data set gets, before timing.
      await orm.em.getConnection().execute('analyze');
      ctx.log(`dataset: applied ${applied.join(', ')} and analyzed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await orm.close(true);
  }
}

/** The data set of this size, built unless an identical one is already there (then migrated up). */
export async function ensureDataset(ctx: BenchContext, size: 'full' | 'quick'): Promise<Dataset> {
  const spec = SPECS[size];
  const name = `switchboard_bench_${size}`;
  const url = databaseUrl(ctx.adminDatabaseUrl, name);
  if (await databaseExists(ctx.adminDatabaseUrl, name)) {
    const marker = await sql<{ spec: string }>(url, `select spec from bench_dataset`).catch(() => []);
    if (marker[0]?.spec === JSON.stringify({ VERSION, ...spec })) {
      await migrateDataset(ctx, url);
      return describe(url, null);
    }
  }
  const t0 = Date.now();
  await createMigratedDatabase(ctx.adminDatabaseUrl, name);
  await load(url, spec, ctx);
  const generatedMs = Date.now() - t0;
  ctx.log(`dataset ${size}: generated in ${(generatedMs / 1000).toFixed(0)} s`);
  return describe(url, generatedMs);
}

/** A session token for a user of the data set, by email (e.g. supervisor-0@bench.test), written directly. */
export async function sessionFor(dataset: Dataset, email: string): Promise<{ userId: string; token: string }> {
  const [user] = await sql<{ id: string }>(dataset.databaseUrl, 'select id from users where email = $1', [email]);
  if (!user) throw new Error(`no user ${email} in the data set`);
  const token = newToken('session');
  await sql(dataset.databaseUrl, `insert into sessions (id, organization_id, user_id, token_hash, expires_at) values (gen_random_uuid(), $1, $2, $3, now() + interval '1 day')`, [
    dataset.organizationId,
    user.id,
    hashToken(token),
  ]);
  return { userId: user.id, token };
}

/**
 * What the connect and heap benches subscribe to: an open thread of the first workspace, and 16 session tokens
 * of one supervisor (sockets spread over sessions, as many browser tabs of a team would).
 */
export async function subscribeTarget(dataset: Dataset): Promise<{ thread: { id: string } | undefined; tokens: string[] }> {
  const [thread] = await sql<{ id: string }>(
    dataset.databaseUrl,
    `select t.id from threads t where t.organization_id = $1 and t.workspace_id = $2 and t.status = 'OPEN' order by t.id desc limit 1`,
    [dataset.organizationId, dataset.workspaceIds[0]],
  );
  const tokens: string[] = [];
  for (let i = 0; i < 16; i++) tokens.push((await sessionFor(dataset, 'supervisor-0@bench.test')).token);
  return { thread, tokens };
}
