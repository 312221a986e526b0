import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidArray } from '../../db/tenant';
import { badInput } from '../../shared/errors';
import { Workspace } from '../identity';
import { checkChannel } from '../../shared/channel-name';
import { BUCKETS, quantileSeconds } from './histogram';
import { assertPeriod, periodBounds, type Period } from './policy';
import { NONE } from './rollup-tables';

export enum ReportGroupBy {
  AGENT = 'AGENT',
  AGENT_GROUP = 'AGENT_GROUP',
  TAG = 'TAG',
  CAMPAIGN = 'CAMPAIGN',
  DAY = 'DAY',
  HOUR = 'HOUR',
  CHANNEL = 'CHANNEL',
}

export interface ConversationReportFilters {
  /** Include the workspaces below the one asked about. */
  subtree?: boolean | null;
  agentIds?: string[] | null;
  groupIds?: string[] | null;
  /** One tag: a thread carrying it counts once. */
  tagId?: string | null;
  campaignIds?: string[] | null;
  /** Only threads over these channels ("sms", "whatsapp"...). */
  channels?: string[] | null;
}

export interface DurationStats {
  count: number;
  averageSeconds: number | null;
  medianSeconds: number | null;
  p90Seconds: number | null;
}

export interface ConversationReportRow {
  /** The agent, group, tag or campaign id, or the local day (YYYY-MM-DD) or hour (YYYY-MM-DDTHH:00); null: none (unassigned, untagged...). */
  key: string | null;
  threadsOpened: number;
  messagesIn: number;
  messagesOut: number;
  closed: number;
  transferred: number;
  notNeedingResponse: number;
  firstResponse: DurationStats;
  resolution: DurationStats;
}

export interface ConversationReport {
  workspaceIds: string[];
  period: Period;
  groupBy: ReportGroupBy;
  rows: ConversationReportRow[];
  /** Every row of the period together (with TAG, a thread counts once however many tags it carries). */
  total: ConversationReportRow;
}

export interface UsageTotals {
  messagesSent: number;
  messagesReceived: number;
  segmentsSent: number;
  delivered: number;
  failed: number;
  campaignMessagesSent: number;
  threadsOpened: number;
  contactsCreated: number;
  activeUsers: number;
}

export interface UsageDay extends UsageTotals {
  day: string;
}

export interface WorkspaceUsage {
  workspaceId: string;
  days: UsageDay[];
  total: UsageTotals;
}

export interface OrganizationUsage {
  period: Period;
  workspaces: Array<{ workspaceId: string; total: UsageTotals }>;
  /** Every workspace together (a person active in two workspaces is one active user). */
  total: UsageTotals;
}

/**
 * Orders and payments plug in here once commerce exists: a source answers a payment report for workspaces
 * over a period (local days), and the reports module serves it behind REPORTS_PAYMENTS. Nothing registers one
 * yet, so the schema has no payment report.
 */
export interface PaymentReportSource {
  report(em: EntityManager, q: { organizationId: string; workspaceIds: string[]; period: Period; groupBy: ReportGroupBy }): Promise<Array<Record<string, unknown>>>;
}

const GROUP_KEY: Record<ReportGroupBy, string> = {
  AGENT: 'agent_id::text',
  AGENT_GROUP: 'group_id::text',
  TAG: 'tag_id::text',
  CAMPAIGN: 'campaign_id::text',
  DAY: `to_char(day, 'YYYY-MM-DD')`,
  HOUR: `to_char(hour, 'YYYY-MM-DD"T"HH24:00')`,
  CHANNEL: 'channel',
};

/**
 * The sums of one report row, histograms included: the histograms are summed element by element in the same
 * pass as the counters (one aggregate per bucket), so a report is one scan of its rollup rows.
 */
const ROW_SUMS = [
  ...['threads_opened', 'messages_in', 'messages_out', 'closed', 'transferred', 'no_response', 'first_response_count', 'first_response_ms', 'resolution_count', 'resolution_ms']
    .map((c) => `coalesce(sum(${c}), 0) as ${c}`),
  `array[${Array.from({ length: BUCKETS }, (_, i) => `coalesce(sum(first_response_hist[${i + 1}]), 0)`).join(', ')}] as fh`,
  `array[${Array.from({ length: BUCKETS }, (_, i) => `coalesce(sum(resolution_hist[${i + 1}]), 0)`).join(', ')}] as rh`,
].join(', ');

interface AggregateRow {
  key: string;
  /** 1 on the total row of a GROUPING SETS statement. */
  total?: number;
  threads_opened: string;
  messages_in: string;
  messages_out: string;
  closed: string;
  transferred: string;
  no_response: string;
  first_response_count: string;
  first_response_ms: string;
  resolution_count: string;
  resolution_ms: string;
  fh: number[];
  rh: number[];
}

function stats(count: number, sumMs: number, hist: number[]): DurationStats {
  return {
    count,
    averageSeconds: count ? sumMs / count / 1000 : null,
    medianSeconds: quantileSeconds(hist, 0.5),
    p90Seconds: quantileSeconds(hist, 0.9),
  };
}

function toRow(r: AggregateRow): ConversationReportRow {
  return {
    key: r.key === NONE || r.key === '' ? null : r.key,
    threadsOpened: Number(r.threads_opened),
    messagesIn: Number(r.messages_in),
    messagesOut: Number(r.messages_out),
    closed: Number(r.closed),
    transferred: Number(r.transferred),
    notNeedingResponse: Number(r.no_response),
    firstResponse: stats(Number(r.first_response_count), Number(r.first_response_ms), r.fh.map(Number)),
    resolution: stats(Number(r.resolution_count), Number(r.resolution_ms), r.rh.map(Number)),
  };
}

const EMPTY_ROW: AggregateRow = {
  key: '', threads_opened: '0', messages_in: '0', messages_out: '0', closed: '0', transferred: '0', no_response: '0',
  first_response_count: '0', first_response_ms: '0', resolution_count: '0', resolution_ms: '0', fh: [], rh: [],
};

function ids(list: string[] | null | undefined, field: string): string[] | null {
  if (!list) return null;
  if (list.length > 100) throw badInput('At most 100 ids per filter', { field });
  return list;
}

/**
 * Reports read the rollup tables only (never messages): a period of any length costs its rollup rows, the
 * per-day rows (conversation_rollups_daily) unless grouped by hour.
 */
export class ReportService {
  /** The workspace, or it and every workspace below it. */
  async scope(em: EntityManager, workspaceId: string, subtree: boolean): Promise<string[]> {
    if (!subtree) return [workspaceId];
    const found = await em.find(Workspace, { $or: [{ id: workspaceId }, { ancestorIds: { $contains: [workspaceId] } }] }, { fields: ['id'] });
    return found.map((w) => w.id);
  }

  async conversationReport(
    em: EntityManager,
    organizationId: string,
    workspaceId: string,
    period: Period,
    groupBy: ReportGroupBy,
    filters: ConversationReportFilters = {},
  ): Promise<ConversationReport> {
    assertPeriod(period);
    const workspaceIds = await this.scope(em, workspaceId, filters.subtree ?? false);
    return this.conversationReportOver(em, organizationId, workspaceIds, period, groupBy, filters);
  }

  private async conversationReportOver(
    em: EntityManager,
    organizationId: string,
    workspaceIds: string[],
    period: Period,
    groupBy: ReportGroupBy,
    filters: ConversationReportFilters,
  ): Promise<ConversationReport> {
    // Day rows unless the report is per hour: the same counters, ~24x fewer rows over a month.
    const hourly = groupBy === ReportGroupBy.HOUR;
    const table = hourly ? 'conversation_rollups' : 'conversation_rollups_daily';
    const { start, end } = periodBounds(period);
    const where = ['organization_id = ?', 'workspace_id = any(?::uuid[])'];
    const params: unknown[] = [organizationId, uuidArray(workspaceIds)];
    if (hourly) {
      where.push('hour >= ?::timestamp', 'hour < ?::timestamp');
      params.push(start, end);
    } else {
      where.push('day >= ?::date', 'day <= ?::date');
      params.push(period.from, period.to);
    }
    const list = (column: string, values: string[] | null) => {
      if (!values) return;
      where.push(`${column} = any(?::uuid[])`);
      params.push(uuidArray(values.map((v) => (v === '' ? NONE : v))));
    };
    list('agent_id', ids(filters.agentIds, 'filters.agentIds'));
    list('group_id', ids(filters.groupIds, 'filters.groupIds'));
    list('campaign_id', ids(filters.campaignIds, 'filters.campaignIds'));
    const channels = ids(filters.channels, 'filters.channels');
    if (channels) {
      where.push('channel = any(?::text[])');
      params.push(`{${channels.map((c) => checkChannel(c, 'filters.channels')).join(',')}}`);
    }
    const conn = em.getConnection();
    // One row per thread event in the all-tags rows (tag_id = NONE); one per tag the thread carried in the others.
    if (groupBy === ReportGroupBy.TAG) {
      // Per tag: every tag row and the all-tags row in one pass, grouped by tag; the all-tags row is the total.
      if (filters.tagId) {
        where.push('tag_id = ?');
        params.push(filters.tagId);
      }
      const found = await conn.execute<AggregateRow[]>(
        `select tag_id::text as key, ${ROW_SUMS} from ${table} where ${where.join(' and ')} group by tag_id order by key`,
        params,
      );
      const rows = filters.tagId ? found : found.filter((r) => r.key !== NONE);
      const total = filters.tagId ? found[0] : found.find((r) => r.key === NONE);
      return { workspaceIds, period, groupBy, rows: rows.map(toRow), total: toRow({ ...(total ?? EMPTY_ROW), key: '' }) };
    }
    where.push('tag_id = ?');
    params.push(filters.tagId ?? NONE);
    const key = GROUP_KEY[groupBy];
    // The rows and the total in one statement: GROUPING SETS ((key), ()).
    const found = await conn.execute<AggregateRow[]>(
      `select ${key} as key, grouping(${key}) as total, ${ROW_SUMS} from ${table} where ${where.join(' and ')}
        group by grouping sets ((${key}), ()) order by total, key`,
      params,
    );
    const total = found.find((r) => Number(r.total) === 1);
    const rows = found.filter((r) => Number(r.total) !== 1);
    return { workspaceIds, period, groupBy, rows: rows.map(toRow), total: toRow(total ?? EMPTY_ROW) };
  }

  /** The conversation report over every workspace of the organization (ORGANIZATION_ANALYTICS_VIEW). */
  async organizationConversationReport(em: EntityManager, organizationId: string, period: Period, groupBy: ReportGroupBy, filters: ConversationReportFilters = {}): Promise<ConversationReport> {
    assertPeriod(period);
    const all = await em.find(Workspace, {}, { fields: ['id'], orderBy: { createdAt: 'asc', id: 'asc' } });
    return this.conversationReportOver(em, organizationId, all.map((w) => w.id), period, groupBy, filters);
  }

  /** A workspace's usage per local day of the period, and the period's totals. */
  async usage(em: EntityManager, organizationId: string, workspaceId: string, period: Period): Promise<WorkspaceUsage> {
    assertPeriod(period);
    const { start, end } = periodBounds(period);
    const conn = em.getConnection();
    const [counters, active, contacts] = await Promise.all([
      conn.execute<Array<{ day: string } & Record<string, string>>>(
        `select to_char(day, 'YYYY-MM-DD') as day, ${USAGE_SUMS} from conversation_rollups_daily
          where organization_id = ? and workspace_id = ? and day >= ?::date and day <= ?::date and tag_id = ?
          group by 1 order by 1`,
        [organizationId, workspaceId, period.from, period.to, NONE],
      ),
      conn.execute<Array<{ day: string | null; n: string }>>(
        `select to_char(day, 'YYYY-MM-DD') as day, count(distinct user_id) as n from usage_active_users
          where organization_id = ? and workspace_id = ? and day >= ?::date and day <= ?::date
          group by grouping sets ((day), ())`,
        [organizationId, workspaceId, period.from, period.to],
      ),
      conn.execute<Array<{ day: string; n: string }>>(
        `select to_char(c.created_at at time zone z.tz, 'YYYY-MM-DD') as day, count(*) as n
           from (select coalesce((select time_zone from workspace_settings where organization_id = ? and workspace_id = ?), 'UTC') as tz) z
           join contacts c on c.organization_id = ? and c.workspace_id = ?
            and c.created_at >= (?::timestamp at time zone z.tz) and c.created_at < (?::timestamp at time zone z.tz)
          group by 1`,
        [organizationId, workspaceId, organizationId, workspaceId, start, end],
      ),
    ]);
    const days = new Map<string, UsageDay>();
    const day = (d: string) => {
      let u = days.get(d);
      if (!u) days.set(d, (u = { day: d, ...emptyTotals() }));
      return u;
    };
    for (const r of counters) Object.assign(day(r.day), usageOf(r));
    for (const r of active) if (r.day) day(r.day).activeUsers = Number(r.n);
    for (const r of contacts) day(r.day).contactsCreated = Number(r.n);
    const list = [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
    const total = sumTotals(list);
    total.activeUsers = Number(active.find((r) => r.day === null)?.n ?? 0);
    return { workspaceId, days: list, total };
  }

  /** Every workspace's usage over the period, and the organization's. */
  async organizationUsage(em: EntityManager, organizationId: string, period: Period): Promise<OrganizationUsage> {
    assertPeriod(period);
    const { start, end } = periodBounds(period);
    const conn = em.getConnection();
    const [workspaces, counters, active, contacts] = await Promise.all([
      em.find(Workspace, {}, { fields: ['id'], orderBy: { createdAt: 'asc', id: 'asc' } }),
      conn.execute<Array<{ workspace_id: string } & Record<string, string>>>(
        `select workspace_id, ${USAGE_SUMS} from conversation_rollups_daily
          where organization_id = ? and day >= ?::date and day <= ?::date and tag_id = ? group by 1`,
        [organizationId, period.from, period.to, NONE],
      ),
      conn.execute<Array<{ workspace_id: string | null; n: string }>>(
        `select workspace_id, count(distinct user_id) as n from usage_active_users
          where organization_id = ? and day >= ?::date and day <= ?::date group by grouping sets ((workspace_id), ())`,
        [organizationId, period.from, period.to],
      ),
      // Contacts have no event: counted from their table, each in its workspace's time zone (a day of slack
      // either side of the UTC range lets the index narrow the scan).
      conn.execute<Array<{ workspace_id: string; n: string }>>(
        `select c.workspace_id, count(*) as n from contacts c
           left join workspace_settings s on s.organization_id = c.organization_id and s.workspace_id = c.workspace_id
          where c.organization_id = ? and c.created_at >= ?::timestamptz - interval '1 day' and c.created_at < ?::timestamptz + interval '1 day'
            and (c.created_at at time zone coalesce(s.time_zone, 'UTC')) >= ?::timestamp
            and (c.created_at at time zone coalesce(s.time_zone, 'UTC')) < ?::timestamp
          group by 1`,
        [organizationId, `${start}+00`, `${end}+00`, start, end],
      ),
    ]);
    const byWorkspace = new Map(workspaces.map((w) => [w.id, emptyTotals()]));
    for (const r of counters) Object.assign(byWorkspace.get(r.workspace_id) ?? {}, usageOf(r));
    for (const r of active) if (r.workspace_id) { const t = byWorkspace.get(r.workspace_id); if (t) t.activeUsers = Number(r.n); }
    for (const r of contacts) { const t = byWorkspace.get(r.workspace_id); if (t) t.contactsCreated = Number(r.n); }
    const list = [...byWorkspace.entries()].map(([workspaceId, total]) => ({ workspaceId, total }));
    const total = sumTotals(list.map((w) => w.total));
    total.activeUsers = Number(active.find((r) => r.workspace_id === null)?.n ?? 0);
    return { period, workspaces: list, total };
  }
}

const USAGE_SUMS = `sum(messages_out) as messages_sent, sum(messages_in) as messages_received, sum(segments_out) as segments_sent,
  sum(delivered) as delivered, sum(failed) as failed, sum(threads_opened) as threads_opened,
  coalesce(sum(messages_out) filter (where campaign_id <> '${NONE}'), 0) as campaign_messages_sent`;

function emptyTotals(): UsageTotals {
  return { messagesSent: 0, messagesReceived: 0, segmentsSent: 0, delivered: 0, failed: 0, campaignMessagesSent: 0, threadsOpened: 0, contactsCreated: 0, activeUsers: 0 };
}

function usageOf(r: Record<string, string>): Partial<UsageTotals> {
  return {
    messagesSent: Number(r.messages_sent),
    messagesReceived: Number(r.messages_received),
    segmentsSent: Number(r.segments_sent),
    delivered: Number(r.delivered),
    failed: Number(r.failed),
    campaignMessagesSent: Number(r.campaign_messages_sent),
    threadsOpened: Number(r.threads_opened),
  };
}

function sumTotals(list: UsageTotals[]): UsageTotals {
  const out = emptyTotals();
  for (const t of list) for (const k of Object.keys(out) as Array<keyof UsageTotals>) out[k] += t[k];
  return out;
}
