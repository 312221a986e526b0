import type { EntityManager } from '@mikro-orm/postgresql';
import type { LoggedEvent } from '../../realtime';
import { uuidArray } from '../../db/tenant';
import { bucketOf, emptyHistogram } from './histogram';
import { activeUserOf, agentOf, isFirstResponse, isMarkedNoResponse, isResolution, segmentsOf } from './policy';
import { NONE } from './rollup-tables';

/** The counters of one rollup row (see Migration20261130184000 for the key). */
export const COUNTERS = [
  'threads_opened', 'messages_in', 'messages_out', 'segments_out', 'delivered', 'failed', 'closed', 'transferred', 'no_response',
  'first_response_count', 'first_response_ms', 'resolution_count', 'resolution_ms',
] as const;
export type Counter = (typeof COUNTERS)[number];

interface Delta {
  /** organization, workspace, local hour (or day), agent, group, campaign, tag, channel */
  key: [string, string, string, string, string, string, string, string];
  counts: Record<Counter, number>;
  firstResponseHist: number[];
  resolutionHist: number[];
}

interface ThreadStateRow {
  organization_id: string;
  thread_id: string;
  status: string;
  needs_response: boolean;
  open_since: string | null;
  awaiting_since: string | null;
  first_responded: boolean;
  tag_ids: string[];
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
    } catch {
      f = formatterFor('UTC');
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local wall-clock hour of an instant in a time zone, as `YYYY-MM-DD HH:00:00`. */
export function localHour(instant: string, timeZone: string): string {
  const parts = Object.fromEntries(formatterFor(timeZone).formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:00:00`;
}

function iso(value: string | Date | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

/**
 * Folds a batch of events (in log order) into the rollup tables, in the caller's transaction. Thread events
 * only; the rest (availability, access changes) move the cursor and count nothing.
 */
export async function applyEvents(tx: EntityManager, events: readonly LoggedEvent[]): Promise<void> {
  const threadEvents = events.filter((e) => e.threadId && e.payload.thread);
  if (!threadEvents.length) return;
  const trx = tx.getTransactionContext();
  const conn = tx.getConnection();
  const run = <T>(sql: string, params: unknown[]) => conn.execute(sql, params, 'all', trx) as Promise<T>;

  const workspaces = [...new Map(threadEvents.map((e) => [e.workspaceId, e.organizationId])).entries()];
  const zones = new Map(
    (await run<Array<{ workspace_id: string; time_zone: string }>>(
      `select workspace_id, time_zone from workspace_settings where (organization_id, workspace_id) in (select * from unnest(?::uuid[], ?::uuid[]))`,
      [uuidArray(workspaces.map((w) => w[1])), uuidArray(workspaces.map((w) => w[0]))],
    )).map((r) => [r.workspace_id, r.time_zone]),
  );
  const pairs = [...new Map(threadEvents.map((e) => [`${e.organizationId}:${e.threadId}`, [e.organizationId, e.threadId!] as const])).values()];
  const orgParam = uuidArray(pairs.map((p) => p[0]));
  const threadParam = uuidArray(pairs.map((p) => p[1]));
  const states = new Map<string, ThreadStateRow>();
  for (const r of await run<ThreadStateRow[]>(
    `select organization_id, thread_id, status, needs_response, open_since, awaiting_since, first_responded, tag_ids::text[] as tag_ids
       from report_thread_states where (organization_id, thread_id) in (select * from unnest(?::uuid[], ?::uuid[]))`,
    [orgParam, threadParam],
  )) {
    states.set(r.thread_id, { ...r, open_since: iso(r.open_since), awaiting_since: iso(r.awaiting_since) });
  }
  // The channel of each thread (set when it is created, never changed); a deleted thread's events count as sms.
  const channels = new Map(
    (await run<Array<{ id: string; channel: string }>>(
      `select id, channel from threads where (organization_id, id) in (select * from unnest(?::uuid[], ?::uuid[]))`,
      [orgParam, threadParam],
    )).map((r) => [r.id, r.channel]),
  );
  // A thread the worker meets for the first time (older than the retained log) starts with its tags of now.
  const unknown = pairs.filter((p) => !states.has(p[1]));
  const currentTags = new Map<string, string[]>();
  if (unknown.length) {
    for (const r of await run<Array<{ thread_id: string; tag_id: string }>>(
      `select thread_id, tag_id from thread_tags where (organization_id, thread_id) in (select * from unnest(?::uuid[], ?::uuid[]))`,
      [uuidArray(unknown.map((p) => p[0])), uuidArray(unknown.map((p) => p[1]))],
    )) {
      currentTags.set(r.thread_id, [...(currentTags.get(r.thread_id) ?? []), r.tag_id]);
    }
  }

  const deltas = new Map<string, Delta>();
  const active = new Map<string, [string, string, string, string]>();
  const touched = new Set<string>();

  for (const e of threadEvents) {
    const p = e.payload;
    const thread = p.thread!;
    const zone = zones.get(e.workspaceId) ?? 'UTC';
    const at = p.message?.createdAt ?? e.occurredAt;
    let state = states.get(e.threadId!);
    const known = state !== undefined;
    if (!state) {
      state = {
        organization_id: e.organizationId, thread_id: e.threadId!, status: thread.status, needs_response: thread.needsResponse,
        open_since: e.type === 'THREAD_CREATED' ? at : null, awaiting_since: null, first_responded: false, tag_ids: currentTags.get(e.threadId!) ?? [],
      };
      states.set(e.threadId!, state);
    }
    touched.add(e.threadId!);
    if (e.type === 'TAGS_CHANGED' && p.tagIds) state.tag_ids = [...p.tagIds];

    const hour = localHour(at, zone);
    const channel = channels.get(e.threadId!) ?? 'sms';
    const agent = agentOf(e.type, p) ?? NONE;
    const add = (counter: Counter, n: number, hist?: { kind: 'first' | 'resolution'; ms: number }) => {
      for (const tag of [NONE, ...state.tag_ids]) {
        const key: Delta['key'] = [e.organizationId, e.workspaceId, hour, agent, thread.assigneeGroupId ?? NONE, thread.campaignId ?? NONE, tag, channel];
        const id = key.join('|');
        let d = deltas.get(id);
        if (!d) {
          d = { key, counts: Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>, firstResponseHist: emptyHistogram(), resolutionHist: emptyHistogram() };
          deltas.set(id, d);
        }
        d.counts[counter] += n;
        if (hist?.kind === 'first') d.firstResponseHist[bucketOf(hist.ms)]! += 1;
        if (hist?.kind === 'resolution') d.resolutionHist[bucketOf(hist.ms)]! += 1;
      }
    };

    if (e.type === 'THREAD_CREATED') add('threads_opened', 1);
    const m = p.message;
    if (m && (e.type === 'THREAD_CREATED' || e.type === 'MESSAGE_ADDED')) {
      if (m.direction === 'INBOUND') {
        add('messages_in', 1);
        if (!state.first_responded && state.awaiting_since === null) state.awaiting_since = m.createdAt;
      } else {
        add('messages_out', 1);
        add('segments_out', segmentsOf(m.body));
        if (isFirstResponse(m, state.awaiting_since, state.first_responded)) {
          const ms = Date.parse(m.createdAt) - Date.parse(state.awaiting_since!);
          add('first_response_count', 1, { kind: 'first', ms });
          add('first_response_ms', Math.max(0, ms));
          state.first_responded = true;
        }
      }
    }
    if (m && e.type === 'MESSAGE_STATUS') {
      if (m.status === 'DELIVERED') add('delivered', 1);
      if (m.status === 'FAILED') add('failed', 1);
    }
    if (e.type === 'ASSIGNMENT_CHANGED' && p.assignment?.kind === 'transfer') add('transferred', 1);
    if (isMarkedNoResponse(e.type, known ? state.needs_response : null, thread.needsResponse)) add('no_response', 1);
    if (isResolution(known ? state.status : null, thread.status)) {
      add('closed', 1);
      if (state.open_since) {
        const ms = Date.parse(e.occurredAt) - Date.parse(state.open_since);
        add('resolution_count', 1, { kind: 'resolution', ms });
        add('resolution_ms', Math.max(0, ms));
      }
    }
    if (known && state.status === 'CLOSED' && thread.status !== 'CLOSED') state.open_since = e.occurredAt;
    state.status = thread.status;
    state.needs_response = thread.needsResponse;

    const user = activeUserOf(e.type, p);
    if (user) {
      const day = hour.slice(0, 10);
      active.set(`${e.organizationId}|${e.workspaceId}|${day}|${user}`, [e.organizationId, e.workspaceId, day, user]);
    }
  }

  await upsertRollups(run, 'conversation_rollups', 'hour', [...deltas.values()]);
  await upsertRollups(run, 'conversation_rollups_daily', 'day', dailyOf(deltas.values()));
  await upsertStates(run, [...touched].map((id) => states.get(id)!));
  if (active.size) {
    const rows = [...active.values()];
    await run(
      `insert into usage_active_users (organization_id, workspace_id, day, user_id)
       select * from unnest(?::uuid[], ?::uuid[], ?::date[], ?::uuid[]) on conflict do nothing`,
      [uuidArray(rows.map((r) => r[0])), uuidArray(rows.map((r) => r[1])), `{${rows.map((r) => r[2]).join(',')}}`, uuidArray(rows.map((r) => r[3]))],
    );
  }
}

const ROLLUP_CHUNK = 400;

/** The hourly deltas summed per local day (the key's hour `YYYY-MM-DD HH:00:00` cut to its day). */
function dailyOf(hourly: Iterable<Delta>): Delta[] {
  const days = new Map<string, Delta>();
  for (const d of hourly) {
    const key: Delta['key'] = [d.key[0], d.key[1], d.key[2].slice(0, 10), d.key[3], d.key[4], d.key[5], d.key[6], d.key[7]];
    const id = key.join('|');
    const day = days.get(id);
    if (!day) {
      days.set(id, { key, counts: { ...d.counts }, firstResponseHist: [...d.firstResponseHist], resolutionHist: [...d.resolutionHist] });
      continue;
    }
    for (const c of COUNTERS) day.counts[c] += d.counts[c];
    d.firstResponseHist.forEach((n, i) => (day.firstResponseHist[i]! += n));
    d.resolutionHist.forEach((n, i) => (day.resolutionHist[i]! += n));
  }
  return [...days.values()];
}

async function upsertRollups(run: <T>(sql: string, params: unknown[]) => Promise<T>, table: 'conversation_rollups' | 'conversation_rollups_daily', time: 'hour' | 'day', deltas: Delta[]): Promise<void> {
  const sumCounters = COUNTERS.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');
  const sumHist = (col: string) =>
    `${col} = (select array_agg(a + b order by i) from unnest(${table}.${col}, excluded.${col}) with ordinality as u(a, b, i))`;
  const timeType = time === 'hour' ? 'timestamp' : 'date';
  for (let i = 0; i < deltas.length; i += ROLLUP_CHUNK) {
    const chunk = deltas.slice(i, i + ROLLUP_CHUNK);
    const values = chunk.map(() => `(?, ?, ?::${timeType}, ?, ?, ?, ?, ?, ${COUNTERS.map(() => '?').join(', ')}, ?::int[], ?::int[])`).join(', ');
    const params = chunk.flatMap((d) => [...d.key, ...COUNTERS.map((c) => d.counts[c]), `{${d.firstResponseHist.join(',')}}`, `{${d.resolutionHist.join(',')}}`]);
    await run(
      `insert into ${table} (organization_id, workspace_id, ${time}, agent_id, group_id, campaign_id, tag_id, channel, ${COUNTERS.join(', ')}, first_response_hist, resolution_hist)
       values ${values}
       on conflict (organization_id, workspace_id, ${time}, agent_id, group_id, campaign_id, tag_id, channel) do update set
         ${sumCounters}, ${sumHist('first_response_hist')}, ${sumHist('resolution_hist')}`,
      params,
    );
  }
}

async function upsertStates(run: <T>(sql: string, params: unknown[]) => Promise<T>, rows: ThreadStateRow[]): Promise<void> {
  if (!rows.length) return;
  await run(
    `insert into report_thread_states (organization_id, thread_id, status, needs_response, open_since, awaiting_since, first_responded, tag_ids)
     select o, t, s, n, os, aw, fr, coalesce(tg::uuid[], '{}')
       from unnest(?::uuid[], ?::uuid[], ?::text[], ?::boolean[], ?::timestamptz[], ?::timestamptz[], ?::boolean[], ?::text[]) as u(o, t, s, n, os, aw, fr, tg)
     on conflict (organization_id, thread_id) do update set status = excluded.status, needs_response = excluded.needs_response,
       open_since = excluded.open_since, awaiting_since = excluded.awaiting_since, first_responded = excluded.first_responded, tag_ids = excluded.tag_ids`,
    [
      uuidArray(rows.map((r) => r.organization_id)),
      uuidArray(rows.map((r) => r.thread_id)),
      `{${rows.map((r) => r.status).join(',')}}`,
      `{${rows.map((r) => r.needs_response).join(',')}}`,
      `{${rows.map((r) => r.open_since ?? 'NULL').join(',')}}`,
      `{${rows.map((r) => r.awaiting_since ?? 'NULL').join(',')}}`,
      `{${rows.map((r) => r.first_responded).join(',')}}`,
      // One text per thread: its tag ids as a uuid[] literal (unnest cannot spread a 2-D array of uneven rows).
      `{${rows.map((r) => `"{${r.tag_ids.join(',')}}"`).join(',')}}`,
    ],
  );
}
