/**
 * Conversation reports over 30 days of the data set, read from the rollups through the GraphQL query (timed
 * server-side, as bench/inbox.ts), against the same report computed by a hand-written scan of threads and
 * messages in the same run. The rollups are the data set's history replayed once (lib/rollup-backfill.ts).
 */
import os from 'node:os';
import { buildSchema } from '../server/src/graphql/schema';
import { NONE } from '../server/src/modules/reports/rollup-tables';
import { ensureDataset, sessionFor } from './lib/dataset';
import { prepare, principalFor, run as runOperation } from './lib/execute';
import { median, p99, type BenchContext, type BenchRow } from './lib/report';
import { ensureRollups } from './lib/rollup-backfill';
import { startInProcess } from './lib/setup';

const ROW = `key threadsOpened messagesIn messagesOut closed transferred notNeedingResponse
  firstResponse { count averageSeconds medianSeconds p90Seconds } resolution { count averageSeconds medianSeconds p90Seconds }`;
const WORKSPACE_REPORT = `query($w: ID!, $p: ReportPeriodInput!, $g: ReportGroupBy!, $f: ConversationReportFilter) {
  conversationReport(workspaceId: $w, period: $p, groupBy: $g, filter: $f) { rows { ${ROW} } total { ${ROW} } } }`;
const ORGANIZATION_REPORT = `query($p: ReportPeriodInput!, $g: ReportGroupBy!) {
  organizationConversationReport(period: $p, groupBy: $g) { rows { ${ROW} } total { ${ROW} } } }`;

/**
 * The report by hand: the same events (lib/rollup-backfill.ts REPLAY_EVENTS' definitions) read from threads
 * and messages of the workspaces, kept when their local time falls in the period, grouped by `key` with the
 * total alongside; medians and p90s exact (percentile_cont). $1 organization, $2 workspaces, $3/$4 local bounds.
 */
function scanSql(key: 'agent' | 'day'): string {
  const k = key === 'agent' ? `coalesce(agent_id::text, '${NONE}')` : `to_char(at at time zone tz, 'YYYY-MM-DD')`;
  return `with th as (
      select t.id, t.assignee_user_id, t.status, t.created_at, t.last_activity_at, coalesce(s.time_zone, 'UTC') as tz
        from threads t left join workspace_settings s on s.organization_id = t.organization_id and s.workspace_id = t.workspace_id
       where t.organization_id = $1 and t.workspace_id = any($2::uuid[])),
    ms as (
      select m.thread_id, m.direction, m.created_at, m.automated, coalesce(m.author_id, th.assignee_user_id) as agent_id, th.tz
        from messages m join th on th.id = m.thread_id where m.organization_id = $1 and m.workspace_id = any($2::uuid[])),
    fi as (select thread_id, min(created_at) as first_in from ms where direction = 'INBOUND' group by thread_id),
    fr as (
      select distinct on (ms.thread_id) ms.thread_id, ms.created_at, ms.agent_id, ms.tz, extract(epoch from ms.created_at - fi.first_in) as s
        from ms join fi using (thread_id)
       where ms.direction = 'OUTBOUND' and not ms.automated and ms.agent_id is not null and ms.created_at >= fi.first_in
       order by ms.thread_id, ms.created_at),
    ev as (
      select assignee_user_id as agent_id, tz, created_at as at, 1 as opened, 0 as i, 0 as o, 0 as closed, null::float8 as frs, null::float8 as rs from th
      union all select agent_id, tz, created_at, 0, (direction = 'INBOUND')::int, (direction = 'OUTBOUND')::int, 0, null, null from ms
      union all select agent_id, tz, created_at, 0, 0, 0, 0, s, null from fr
      union all select assignee_user_id, tz, last_activity_at, 0, 0, 0, 1, null, extract(epoch from last_activity_at - created_at) from th where status = 'CLOSED')
    select ${k} as key, grouping(${k}) as total, sum(opened) as threads_opened, sum(i) as messages_in, sum(o) as messages_out, sum(closed) as closed,
           count(frs) as fr_count, avg(frs) as fr_avg, percentile_cont(0.5) within group (order by frs) as fr_median, percentile_cont(0.9) within group (order by frs) as fr_p90,
           count(rs) as res_count, avg(rs) as res_avg, percentile_cont(0.5) within group (order by rs) as res_median, percentile_cont(0.9) within group (order by rs) as res_p90
      from ev where (at at time zone tz) >= $3::timestamp and (at at time zone tz) < $4::timestamp
     group by grouping sets ((${k}), ()) order by total, key`;
}

interface Case {
  name: string;
  document: string;
  variables: Record<string, unknown>;
  field: 'conversationReport' | 'organizationConversationReport';
  workspaceIds: string[];
  key: 'agent' | 'day';
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dataset = await ensureDataset(ctx, ctx.quick ? 'quick' : 'full');
  await ensureRollups(ctx, dataset);
  const app = await startInProcess(dataset.databaseUrl);
  try {
    const { token } = await sessionFor(dataset, 'owner@bench.test');
    const principal = await principalFor(app, token);
    const schema = buildSchema();
    const conn = app.orm.em.getConnection();
    // 30 local days up to today (the data set's workspaces keep UTC).
    const period = { from: day(-29), to: day(0) };
    const bounds = [`${period.from} 00:00:00`, `${day(1)} 00:00:00`];
    const size = `${(dataset.counts.messages / 1e6).toFixed(1)}M messages`;
    const first = dataset.workspaceIds[0]!;
    const cases: Case[] = [
      { name: 'per AGENT, one workspace', document: WORKSPACE_REPORT, variables: { w: first, p: period, g: 'AGENT' }, field: 'conversationReport', workspaceIds: [first], key: 'agent' },
      { name: 'per AGENT, organization', document: ORGANIZATION_REPORT, variables: { p: period, g: 'AGENT' }, field: 'organizationConversationReport', workspaceIds: dataset.workspaceIds, key: 'agent' },
      { name: 'per DAY, organization', document: ORGANIZATION_REPORT, variables: { p: period, g: 'DAY' }, field: 'organizationConversationReport', workspaceIds: dataset.workspaceIds, key: 'day' },
      { name: 'per DAY, one workspace', document: WORKSPACE_REPORT, variables: { w: first, p: period, g: 'DAY' }, field: 'conversationReport', workspaceIds: [first], key: 'day' },
    ];
    const iterations = ctx.quick ? 40 : 200;
    // The scan takes seconds organization-wide: one baseline sample per `every` report samples, interleaved.
    const every = 10;
    const rows: BenchRow[] = [];
    for (const c of cases) {
      const document = prepare(schema, c.document);
      const report = () => runOperation(app, schema, document, c.variables, principal) as Promise<Record<string, { rows: any[]; total: any }>>;
      // knex takes positional `?`: each $n reference becomes one, with its value.
      const values = [dataset.organizationId, `{${c.workspaceIds.join(',')}}`, ...bounds];
      const text = scanSql(c.key);
      const params = [...text.matchAll(/\$(\d+)/g)].map((m) => values[Number(m[1]) - 1]);
      const scan = () => conn.execute<Array<Record<string, any>>>(text.replace(/\$\d+/g, '?'), params);

      // The two answers agree on every count (durations: the rollups' medians are bucket-interpolated).
      const answer = (await report())[c.field]!;
      const scanned = await scan();
      const counts = (r: any) => [r.key ?? NONE, r.threadsOpened, r.messagesIn, r.messagesOut, r.closed, r.firstResponse.count, r.resolution.count].join(' ');
      const scannedCounts = (r: any) => [r.key, r.threads_opened, r.messages_in, r.messages_out, r.closed, r.fr_count, r.res_count].map(String).join(' ');
      const mismatch = [...answer.rows, { ...answer.total, key: null }].map(counts).join('\n') !== [...scanned.filter((r) => Number(r.total) === 0), { ...scanned.find((r) => Number(r.total) === 1), key: NONE }].map(scannedCounts).join('\n');
      if (mismatch) ctx.log(`reports: ${c.name}: the rollup report and the scan DIFFER`);

      for (let i = 0; i < 10; i++) await report();
      const subject: number[] = [];
      const baseline: number[] = [];
      const load: number[] = [];
      for (let i = 0; i < iterations; i++) {
        let t0 = performance.now();
        await report();
        subject.push(performance.now() - t0);
        if (i % every === 0) {
          t0 = performance.now();
          await scan();
          baseline.push(performance.now() - t0);
          load.push(os.loadavg()[0]!);
        }
      }
      const loadAvg = load.reduce((a, b) => a + b, 0) / load.length;
      ctx.log(`reports: ${c.name}: p99 ${p99(subject).toFixed(1)} ms (${answer.rows.length} rows) vs scan p99 ${p99(baseline).toFixed(0)} ms, load ${loadAvg.toFixed(1)}${mismatch ? ', MISMATCH' : ''}`);
      rows.push({
        benchmark: 'reports',
        case: `conversationReport 30 days ${c.name} (${size})`,
        unit: 'ms',
        median: median(subject),
        p99: p99(subject),
        baseline: 'hand-written scan',
        baselineMedian: median(baseline),
        baselineP99: p99(baseline),
        ratio: p99(subject) / p99(baseline),
        target: 'p99 < 100 ms',
        met: !mismatch && p99(subject) < 100,
        note: `load average ${loadAvg.toFixed(1)} on ${os.cpus().length} cores${mismatch ? '; counts differ from the scan' : ''}`,
      });
    }
    return rows;
  } finally {
    await app.stop();
  }
}
