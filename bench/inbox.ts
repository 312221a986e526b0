/**
 * Inbox pages at the data set's size, timed server-side: `threads(first: 50)` with the common filters and
 * `messages(first: 50)`, each against the hand-written SQL that returns the same page through the same pool.
 */
import { buildSchema } from '../server/src/graphql/schema';
import { ensureDataset, sessionFor, type Dataset } from './lib/dataset';
import { prepare, principalFor, run as runOperation } from './lib/execute';
import { median, p99, type BenchContext, type BenchRow } from './lib/report';
import { sql, startInProcess } from './lib/setup';

export const THREAD_PAGE = `query($w: ID!, $f: ThreadFilterInput) {
  threads(workspaceId: $w, filter: $f, first: 50) {
    edges { cursor node { id status lastActivityAt lastMessagePreview needsResponse assigneeUserId
      contact { displayName phone } tags { name } unreadCount } }
    pageInfo { hasNextPage endCursor } } }`;
const MESSAGE_PAGE = `query($t: ID!) { thread(id: $t) { id messages(first: 50) {
  edges { cursor node { id direction body status createdAt authorId } } pageInfo { hasNextPage endCursor } } } }`;

/** The same page as THREAD_PAGE in one hand-written statement; `filter` is extra SQL on `t` ($3.. params). */
function threadPageSql(filter: string): string {
  return `with page as (
      select t.id, t.last_activity_at from threads t
       where t.organization_id = $1 and t.workspace_id = $2 and not t.archived ${filter}
       order by t.last_activity_at desc, t.id desc limit 51)
    select t.id, t.status, t.last_activity_at, t.last_message_preview, t.needs_response, t.assignee_user_id,
           c.first_name, c.last_name, c.phone,
           coalesce((select json_agg(json_build_object('name', g.name)) from thread_tags tt join tags g on g.organization_id = tt.organization_id and g.id = tt.tag_id
                      where tt.organization_id = t.organization_id and tt.thread_id = t.id), '[]') as tags,
           (select count(*) from messages m where m.organization_id = t.organization_id and m.thread_id = t.id and m.direction = 'INBOUND'
               and m.created_at > coalesce((select rc.read_at from read_cursors rc where rc.organization_id = t.organization_id and rc.user_id = $3 and rc.thread_id = t.id), '-infinity')) as unread
      from page p join threads t on t.organization_id = $1 and t.id = p.id
      join contacts c on c.organization_id = $1 and c.id = t.contact_id
     order by p.last_activity_at desc, p.id desc`;
}

export interface InboxCase {
  name: string;
  filter: Record<string, unknown> | null;
  /** SQL on `t` for the baseline; `$user` is the viewer, `$arg` the case's argument. */
  sql: string;
  arg?: string;
}

export async function inboxCases(dataset: Dataset, workspaceId: string): Promise<InboxCase[]> {
  const [agent] = await sql<{ user_id: string }>(dataset.databaseUrl, `select user_id from memberships where workspace_id = $1 and 'AGENT' = any(roles) order by user_id limit 1`, [workspaceId]);
  const [tag] = await sql<{ id: string }>(dataset.databaseUrl, `select id from tags where workspace_id = $1 and name = 'urgent'`, [workspaceId]);
  return [
    { name: 'inbox (no filter)', filter: null, sql: '' },
    { name: 'status OPEN', filter: { status: 'OPEN' }, sql: `and t.status = 'OPEN'` },
    { name: 'assignee = an agent', filter: { assignee: agent!.user_id }, sql: 'and t.assignee_user_id = $arg', arg: agent!.user_id },
    { name: 'unassigned', filter: { assignee: 'unassigned' }, sql: 'and t.assignee_user_id is null' },
    { name: 'tag', filter: { tagId: tag!.id }, sql: 'and exists (select 1 from thread_tags tt where tt.organization_id = t.organization_id and tt.tag_id = $arg and tt.thread_id = t.id)', arg: tag!.id },
    { name: 'needs response', filter: { needsResponse: true }, sql: 'and t.needs_response' },
    {
      name: 'unread',
      filter: { unread: true },
      sql: `and exists (select 1 from messages m where m.organization_id = t.organization_id and m.thread_id = t.id and m.direction = 'INBOUND'
              and m.created_at > coalesce((select rc.read_at from read_cursors rc where rc.organization_id = t.organization_id and rc.user_id = $user and rc.thread_id = t.id), '-infinity'))`,
    },
    { name: 'search "refund"', filter: { search: 'refund' }, sql: `and t.id in (select m.thread_id from messages m where m.organization_id = $1 and m.body_tsv @@ plainto_tsquery('simple', $arg))`, arg: 'refund' },
  ];
}

/** Numbers `$user`/`$arg` and returns the statement with its parameters. */
export function baselineFor(c: InboxCase, organizationId: string, workspaceId: string, userId: string): { text: string; params: unknown[] } {
  const params: unknown[] = [organizationId, workspaceId, userId];
  let filter = c.sql.replaceAll('$user', '$3');
  if (c.arg !== undefined) {
    params.push(c.arg);
    filter = filter.replaceAll('$arg', '$4');
  }
  return { text: threadPageSql(filter), params };
}

/** A thread with 500 messages, so a message page is a page of a long history. */
async function longThread(dataset: Dataset, workspaceId: string): Promise<string> {
  const [thread] = await sql<{ id: string; n: string }>(
    dataset.databaseUrl,
    `select t.id, (select count(*) from messages m where m.organization_id = t.organization_id and m.thread_id = t.id) as n
       from threads t where t.organization_id = $1 and t.workspace_id = $2 order by t.id limit 1`,
    [dataset.organizationId, workspaceId],
  );
  if (Number(thread!.n) < 500) {
    await sql(
      dataset.databaseUrl,
      `insert into messages (id, organization_id, workspace_id, thread_id, direction, body, status, created_at)
       select gen_random_uuid(), $1, $2, $3, (case when k % 2 = 0 then 'INBOUND' else 'OUTBOUND' end)::message_direction,
              'Long history message ' || k, 'DELIVERED', now() - k * interval '1 minute' from generate_series(1, 500) k`,
      [dataset.organizationId, workspaceId, thread!.id],
    );
  }
  return thread!.id;
}

/** Warm-up runs of a case's subject and baseline each, before its timed runs. */
const WARM_UP = 20;

/** Alternates subject and baseline per iteration, so drift on a noisy machine hits both alike. */
async function paired(iterations: number, subject: () => Promise<unknown>, baseline: () => Promise<unknown>): Promise<[number[], number[]]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < WARM_UP; i++) {
    await subject();
    await baseline();
  }
  for (let i = 0; i < iterations; i++) {
    let t0 = performance.now();
    await subject();
    a.push(performance.now() - t0);
    t0 = performance.now();
    await baseline();
    b.push(performance.now() - t0);
  }
  return [a, b];
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dataset = await ensureDataset(ctx, ctx.quick ? 'quick' : 'full');
  const app = await startInProcess(dataset.databaseUrl);
  try {
    const workspaceId = dataset.workspaceIds[0]!;
    const { userId, token } = await sessionFor(dataset, 'supervisor-0@bench.test');
    const principal = await principalFor(app, token);
    const schema = buildSchema();
    const conn = app.orm.em.getConnection();
    const iterations = ctx.quick ? 60 : 300;
    const size = `${(dataset.counts.messages / 1e6).toFixed(1)}M messages`;
    const rows: BenchRow[] = [];
    const row = (name: string, subject: number[], baseline: number[]): BenchRow => {
      const ratio = p99(subject) / p99(baseline);
      return {
        benchmark: 'inbox',
        case: `${name} (${size})`,
        unit: 'ms',
        median: median(subject),
        p99: p99(subject),
        baseline: 'hand-written SQL',
        baselineMedian: median(baseline),
        baselineP99: p99(baseline),
        ratio,
        target: 'p99 < 15 ms, ≤ 1.5x SQL',
        met: p99(subject) < 15 && ratio <= 1.5,
      };
    };

    // Every case as a (subject, baseline) pair, so they can all be warmed up before any is timed.
    const cases: Array<{ name: string; subject: () => Promise<unknown>; baseline: () => Promise<unknown> }> = [];
    const threadPage = prepare(schema, THREAD_PAGE);
    for (const c of await inboxCases(dataset, workspaceId)) {
      const baseline = baselineFor(c, dataset.organizationId, workspaceId, userId);
      const knexText = baseline.text.replace(/\$(\d+)/g, (_, n: string) => `?${n}`);
      // knex uses positional `?`; expand $n references into that form.
      const positions = [...knexText.matchAll(/\?(\d+)/g)].map((m) => Number(m[1]) - 1);
      const text = knexText.replace(/\?\d+/g, '?');
      const params = positions.map((i) => baseline.params[i]);
      cases.push({
        name: `threads(first: 50) ${c.name}`,
        subject: () => runOperation(app, schema, threadPage, { w: workspaceId, f: c.filter }, principal),
        baseline: () => conn.execute(text, params),
      });
    }
    const threadId = await longThread(dataset, workspaceId);
    const messagePage = prepare(schema, MESSAGE_PAGE);
    cases.push({
      name: 'thread.messages(first: 50), 500-message thread',
      subject: () => runOperation(app, schema, messagePage, { t: threadId }, principal),
      baseline: () =>
        conn.execute(
          `select t.id, m.id, m.direction, m.body, m.status, m.created_at, m.author_id from threads t
             join lateral (select * from messages m where m.organization_id = t.organization_id and m.thread_id = t.id order by m.created_at desc, m.id desc limit 51) m on true
            where t.organization_id = ? and t.id = ?`,
          [dataset.organizationId, threadId],
        ),
    });

    // One warm-up over every case, subject and baseline alike, before the first is timed: the first case
    // otherwise pays for the process's JIT compilation of the whole page path and its first full GC (the heap
    // of the start and schema build), and Postgres's first reads of each case's rows.
    for (const c of cases) for (let i = 0; i < WARM_UP; i++) await c.subject().then(c.baseline);
    for (const c of cases) {
      const [subject, base] = await paired(iterations, c.subject, c.baseline);
      rows.push(row(c.name, subject, base));
      ctx.log(`inbox: ${c.name}: p99 ${p99(subject).toFixed(1)} ms vs SQL ${p99(base).toFixed(1)} ms`);
    }
    return rows;
  } finally {
    await app.stop();
  }
}
