/**
 * The data set's history replayed into the rollup tables, set-based: the data set is written straight into
 * threads and messages (no event log), so the reports bench fills conversation_rollups (per local hour) and
 * conversation_rollups_daily as the rollup worker would have from the events of that history. Run once per
 * data set and remembered (a marker row written last, like the data set's own).
 *
 * The replay's events: a thread opening at threads.created_at; each message at its created_at (in / out,
 * segments, delivered, failed); the first reply a person wrote after the first inbound message (the data set's
 * outbound messages have no author: their author is the thread's assignee, as agentOf() falls back to); a
 * close at last_activity_at for CLOSED threads (resolution from created_at). Each counts for the thread's
 * assignee (or the reply's author), its group and campaign, once in the all-tags row and once per tag the
 * thread carries now. No transfers or no-response marks: the data set has none.
 */
import pg from 'pg';
import { BUCKET_UPPER_SECONDS, BUCKETS } from '../../server/src/modules/reports/histogram';
import { COUNTERS } from '../../server/src/modules/reports/rollup';
import { NONE } from '../../server/src/modules/reports/rollup-tables';
import type { Dataset } from './dataset';
import type { BenchContext } from './report';

const VERSION = 'rollups-1';

const bucket = (seconds: string) => `width_bucket(${seconds}, array[${BUCKET_UPPER_SECONDS.join(', ')}]::float8[])`;
const hist = (column: string) =>
  `array[${Array.from({ length: BUCKETS }, (_, i) => `count(*) filter (where ${column} is not null and ${bucket(`(${column} / 1000.0)::float8`)} = ${i})`).join(', ')}]::int[]`;
const histSum = (column: string) => `array[${Array.from({ length: BUCKETS }, (_, i) => `sum(${column}[${i + 1}])`).join(', ')}]::int[]`;

/** The replayed events of an organization, one row each (ms columns: the duration a first response / close measured). */
export const REPLAY_EVENTS = `
  th as (
    select t.id, t.workspace_id, t.assignee_user_id, coalesce(t.assignee_group_id, '${NONE}') as group_id, coalesce(t.campaign_id, '${NONE}') as campaign_id,
           t.status, t.created_at, t.last_activity_at, coalesce(s.time_zone, 'UTC') as tz
      from threads t left join workspace_settings s on s.organization_id = t.organization_id and s.workspace_id = t.workspace_id
     where t.organization_id = $1),
  ms as (
    select m.thread_id, m.direction, m.status, m.body, m.created_at, m.automated, coalesce(m.author_id, th.assignee_user_id) as agent_id
      from messages m join th on th.id = m.thread_id where m.organization_id = $1),
  fi as (select thread_id, min(created_at) as first_in from ms where direction = 'INBOUND' group by thread_id),
  fr as (
    select distinct on (ms.thread_id) ms.thread_id, ms.created_at, ms.agent_id, (extract(epoch from ms.created_at - fi.first_in) * 1000)::bigint as ms
      from ms join fi using (thread_id)
     where ms.direction = 'OUTBOUND' and not ms.automated and ms.agent_id is not null and ms.created_at >= fi.first_in
     order by ms.thread_id, ms.created_at),
  ev as (
    select id as thread_id, created_at as at, assignee_user_id as agent_id, 1 as threads_opened, 0 as messages_in, 0 as messages_out, 0 as segments_out,
           0 as delivered, 0 as failed, 0 as closed, null::bigint as fr_ms, null::bigint as res_ms from th
    union all
    select thread_id, created_at, agent_id, 0, (direction = 'INBOUND')::int, (direction = 'OUTBOUND')::int,
           case when direction = 'OUTBOUND' then case when length(body) <= 160 then 1 else ceil(length(body) / 153.0)::int end else 0 end,
           (direction = 'OUTBOUND' and status = 'DELIVERED')::int, (direction = 'OUTBOUND' and status = 'FAILED')::int, 0, null, null from ms
    union all
    select thread_id, created_at, agent_id, 0, 0, 0, 0, 0, 0, 0, ms, null from fr
    union all
    select id, last_activity_at, assignee_user_id, 0, 0, 0, 0, 0, 0, 1, null, (extract(epoch from last_activity_at - created_at) * 1000)::bigint from th where status = 'CLOSED')`;

async function backfill(client: pg.Client, organizationId: string, ctx: BenchContext): Promise<void> {
  const step = async (name: string, text: string) => {
    const t0 = Date.now();
    const r = await client.query(text, [organizationId]);
    ctx.log(`rollups: ${name}: ${r.rowCount ?? 0} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  await client.query('begin');
  await client.query(`delete from conversation_rollups where organization_id = $1`, [organizationId]);
  await client.query(`delete from conversation_rollups_daily where organization_id = $1`, [organizationId]);
  await step(
    'hourly',
    `insert into conversation_rollups (organization_id, workspace_id, hour, agent_id, group_id, campaign_id, tag_id, ${COUNTERS.join(', ')}, first_response_hist, resolution_hist)
     with ${REPLAY_EVENTS},
       tagged as (
         select th.workspace_id, date_trunc('hour', ev.at at time zone th.tz) as hour, coalesce(ev.agent_id, '${NONE}') as agent, th.group_id, th.campaign_id, tg.tag_id,
                ev.threads_opened, ev.messages_in, ev.messages_out, ev.segments_out, ev.delivered, ev.failed, ev.closed, ev.fr_ms, ev.res_ms
           from ev join th on th.id = ev.thread_id
           cross join lateral (select '${NONE}'::uuid as tag_id union all select tt.tag_id from thread_tags tt where tt.organization_id = $1 and tt.thread_id = ev.thread_id) tg)
     select $1, workspace_id, hour, agent, group_id, campaign_id, tag_id,
            sum(threads_opened), sum(messages_in), sum(messages_out), sum(segments_out), sum(delivered), sum(failed), sum(closed), 0, 0,
            count(fr_ms), coalesce(sum(greatest(fr_ms, 0)), 0), count(res_ms), coalesce(sum(greatest(res_ms, 0)), 0), ${hist('fr_ms')}, ${hist('res_ms')}
       from tagged group by workspace_id, hour, agent, group_id, campaign_id, tag_id`,
  );
  await step(
    'daily',
    `insert into conversation_rollups_daily (organization_id, workspace_id, day, agent_id, group_id, campaign_id, tag_id, channel, ${COUNTERS.join(', ')}, first_response_hist, resolution_hist)
     select organization_id, workspace_id, hour::date, agent_id, group_id, campaign_id, tag_id, channel, ${COUNTERS.map((c) => `sum(${c})`).join(', ')},
            ${histSum('first_response_hist')}, ${histSum('resolution_hist')}
       from conversation_rollups where organization_id = $1 group by organization_id, workspace_id, hour::date, agent_id, group_id, campaign_id, tag_id, channel`,
  );
  await client.query('commit');
  await client.query('analyze conversation_rollups');
  await client.query('analyze conversation_rollups_daily');
}

/** Fills the rollups of the data set unless this version of the replay already did. */
export async function ensureRollups(ctx: BenchContext, dataset: Dataset): Promise<void> {
  const client = new pg.Client({ connectionString: dataset.databaseUrl });
  await client.connect();
  try {
    await client.query(`create table if not exists bench_rollups (spec text primary key, completed_at timestamptz not null default now())`);
    const done = await client.query(`select 1 from bench_rollups where spec = $1`, [VERSION]);
    if (done.rowCount) return;
    const t0 = Date.now();
    await backfill(client, dataset.organizationId, ctx);
    await client.query(`delete from bench_rollups`);
    await client.query(`insert into bench_rollups (spec) values ($1)`, [VERSION]);
    ctx.log(`rollups: replayed the data set's history in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}
