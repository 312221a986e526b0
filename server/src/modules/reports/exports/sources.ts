import type { EntityManager } from '@mikro-orm/postgresql';

import { badInput } from '../../../shared/errors';
import { Permission } from '../../identity';
import { ReportGroupBy, type ReportService, type ConversationReportFilters } from '../reports.service';
import { paymentReport, PaymentReportGroupBy, type PaymentReportFilters } from '../payments';
import type { Period } from '../policy';
import type { Row } from './format';

/** What can be exported. Every list is read in keyset pages; reports are read once (they are small by construction). */
export enum ExportKind {
  CONVERSATION_REPORT = 'CONVERSATION_REPORT',
  PAYMENT_REPORT = 'PAYMENT_REPORT',
  USAGE = 'USAGE',
  /** One row per message, with its thread's columns. */
  THREADS = 'THREADS',
  CONTACTS = 'CONTACTS',
  OPT_OUTS = 'OPT_OUTS',
  AUDIT_LOG = 'AUDIT_LOG',
}

/** Besides REPORTS_EXPORT on the workspace: what reading the same data through the API takes. */
export const KIND_PERMISSIONS: Record<ExportKind, Permission[]> = {
  CONVERSATION_REPORT: [Permission.REPORTS_CONVERSATIONS],
  PAYMENT_REPORT: [Permission.REPORTS_PAYMENTS],
  USAGE: [Permission.USAGE_VIEW],
  THREADS: [Permission.THREADS_READ_ALL, Permission.MESSAGES_READ_BODY],
  CONTACTS: [Permission.CONTACTS_READ],
  OPT_OUTS: [Permission.OPT_OUTS_READ],
  AUDIT_LOG: [Permission.AUDIT_LOG_READ],
};

/** The parameters an export was started with (stored as JSON on the export). */
export interface ExportParams {
  period?: Period | null;
  groupBy?: string | null;
  conversationFilter?: ConversationReportFilters | null;
  paymentFilter?: PaymentReportFilters | null;
  /** Lists: rows created at or after / before these instants. */
  since?: string | null;
  until?: string | null;
  /** Scheduled report exports: the period is the `periodDays` days before each run. */
  periodDays?: number | null;
}

export interface RowSource {
  columns: readonly string[];
  /** Pages of rows in a stable order; each page is read with its own short statement. */
  pages(): AsyncGenerator<Row[]>;
}

export const PAGE_SIZE = 500;

const REPORT_COLUMNS = ['key', 'threadsOpened', 'messagesIn', 'messagesOut', 'closed', 'transferred', 'notNeedingResponse',
  'firstResponseCount', 'firstResponseAverageSeconds', 'firstResponseMedianSeconds', 'firstResponseP90Seconds',
  'resolutionCount', 'resolutionAverageSeconds', 'resolutionMedianSeconds', 'resolutionP90Seconds'] as const;

function requirePeriod(params: ExportParams): Period {
  if (!params.period) throw badInput('This export needs a period', { field: 'input.period' });
  return params.period;
}

function instant(value: string | null | undefined, field: string): Date | null {
  if (!value) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw badInput(`${field} is not a date-time`, { field: `input.${field}` });
  return d;
}

/** Checks the parameters of a kind up front (startExport refuses bad input before anything is written). */
export function validateParams(kind: ExportKind, params: ExportParams): void {
  if (kind === ExportKind.CONVERSATION_REPORT) {
    requirePeriod(params);
    if (!params.groupBy || !(params.groupBy in ReportGroupBy)) throw badInput('groupBy must be a ReportGroupBy', { field: 'input.groupBy' });
  } else if (kind === ExportKind.PAYMENT_REPORT) {
    requirePeriod(params);
    if (params.groupBy && !(params.groupBy in PaymentReportGroupBy)) throw badInput('groupBy must be a PaymentReportGroupBy', { field: 'input.groupBy' });
  } else if (kind === ExportKind.USAGE) {
    requirePeriod(params);
  }
  instant(params.since, 'since');
  instant(params.until, 'until');
}

/**
 * Keyset pages over one tenant table: `order` is the column list of the keyset (ending with the primary key),
 * `select` returns the rows of one page given the last row's keyset values (null for the first page).
 */
function keyset(columns: readonly string[], fetch: (after: unknown[] | null) => Promise<Array<Row & { _k: unknown[] }>>): RowSource {
  return {
    columns,
    async *pages() {
      let after: unknown[] | null = null;
      for (;;) {
        const rows = await fetch(after);
        if (!rows.length) return;
        after = rows[rows.length - 1]!._k;
        yield rows.map(({ _k, ...row }) => row as Row);
        if (rows.length < PAGE_SIZE) return;
      }
    },
  };
}

export interface SourceContext {
  /** A fresh EntityManager per page (no identity map grows over a long export). */
  em(): EntityManager;
  reports: ReportService;
  organizationId: string;
  workspaceId: string;
}

export function sourceFor(kind: ExportKind, params: ExportParams, c: SourceContext): RowSource {
  const since = instant(params.since, 'since') ?? new Date(0);
  const until = instant(params.until, 'until') ?? new Date('9999-12-31T00:00:00Z');
  const run = <T>(sql: string, values: unknown[]) => c.em().getConnection().execute(sql, values) as Promise<T>;
  switch (kind) {
    case ExportKind.CONVERSATION_REPORT:
      return {
        columns: REPORT_COLUMNS,
        async *pages() {
          const r = await c.reports.conversationReport(c.em(), c.organizationId, c.workspaceId, requirePeriod(params), params.groupBy as ReportGroupBy, params.conversationFilter ?? {});
          yield r.rows.map((row) => ({
            key: row.key, threadsOpened: row.threadsOpened, messagesIn: row.messagesIn, messagesOut: row.messagesOut, closed: row.closed,
            transferred: row.transferred, notNeedingResponse: row.notNeedingResponse,
            firstResponseCount: row.firstResponse.count, firstResponseAverageSeconds: row.firstResponse.averageSeconds,
            firstResponseMedianSeconds: row.firstResponse.medianSeconds, firstResponseP90Seconds: row.firstResponse.p90Seconds,
            resolutionCount: row.resolution.count, resolutionAverageSeconds: row.resolution.averageSeconds,
            resolutionMedianSeconds: row.resolution.medianSeconds, resolutionP90Seconds: row.resolution.p90Seconds,
          }));
        },
      };
    case ExportKind.PAYMENT_REPORT:
      return {
        columns: ['key', 'currency', 'orders', 'orderedAmount', 'paidAmount', 'outstandingAmount', 'payments', 'pendingPaymentAmount', 'reconciledPaymentAmount', 'rejectedPaymentAmount'],
        async *pages() {
          const r = await paymentReport(c.em(), c.organizationId, [c.workspaceId], requirePeriod(params), (params.groupBy as PaymentReportGroupBy) ?? PaymentReportGroupBy.CURRENCY, params.paymentFilter ?? {});
          yield r.rows.map((row) => ({ ...row }));
        },
      };
    case ExportKind.USAGE:
      return {
        columns: ['day', 'messagesSent', 'messagesReceived', 'segmentsSent', 'delivered', 'failed', 'campaignMessagesSent', 'threadsOpened', 'contactsCreated', 'activeUsers'],
        async *pages() {
          const u = await c.reports.usage(c.em(), c.organizationId, c.workspaceId, requirePeriod(params));
          yield u.days.map((d) => ({ ...d }));
        },
      };
    case ExportKind.THREADS:
      return keyset(
        ['threadId', 'threadStatus', 'assigneeUserId', 'assigneeGroupId', 'campaignId', 'contactId', 'contactPhone', 'contactName', 'messageId', 'direction', 'status', 'authorId', 'automated', 'body', 'createdAt'],
        (after) => run(
          `select m.thread_id as "threadId", t.status as "threadStatus", t.assignee_user_id as "assigneeUserId", t.assignee_group_id as "assigneeGroupId",
                  t.campaign_id as "campaignId", t.contact_id as "contactId", c.phone as "contactPhone",
                  nullif(trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')), '') as "contactName",
                  m.id as "messageId", m.direction, m.status, m.author_id as "authorId", m.automated, m.body, m.created_at as "createdAt",
                  array[m.thread_id::text, to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), m.id::text] as _k
             from messages m
             join threads t on t.organization_id = m.organization_id and t.id = m.thread_id
             join contacts c on c.organization_id = t.organization_id and c.id = t.contact_id
            where m.organization_id = ? and m.workspace_id = ? and m.created_at >= ? and m.created_at < ?
              and (?::uuid is null or (m.thread_id, m.created_at, m.id) > (?::uuid, ?::timestamptz, ?::uuid))
            order by m.thread_id, m.created_at, m.id limit ${PAGE_SIZE}`,
          [c.organizationId, c.workspaceId, since, until, ...keysetParams(after, 3)],
        ),
      );
    case ExportKind.CONTACTS:
      return keyset(
        ['id', 'firstName', 'lastName', 'phone', 'email', 'customFields', 'mergedIntoId', 'createdAt', 'updatedAt'],
        (after) => run(
          `select id, first_name as "firstName", last_name as "lastName", phone, email, custom_fields::text as "customFields",
                  merged_into_id as "mergedIntoId", created_at as "createdAt", updated_at as "updatedAt",
                  array[to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), id::text] as _k
             from contacts where organization_id = ? and workspace_id = ? and created_at >= ? and created_at < ?
              and (?::timestamptz is null or (created_at, id) > (?::timestamptz, ?::uuid))
            order by created_at, id limit ${PAGE_SIZE}`,
          [c.organizationId, c.workspaceId, since, until, ...keysetParams(after, 2)],
        ),
      );
    case ExportKind.OPT_OUTS:
      return keyset(
        ['id', 'address', 'source', 'reason', 'until', 'createdById', 'createdAt', 'reversedAt', 'reversedById'],
        (after) => run(
          `select id, address, source, reason, until, created_by_id as "createdById", created_at as "createdAt", reversed_at as "reversedAt",
                  reversed_by_id as "reversedById", array[to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), id::text] as _k
             from opt_outs where organization_id = ? and workspace_id = ? and created_at >= ? and created_at < ?
              and (?::timestamptz is null or (created_at, id) > (?::timestamptz, ?::uuid))
            order by created_at, id limit ${PAGE_SIZE}`,
          [c.organizationId, c.workspaceId, since, until, ...keysetParams(after, 2)],
        ),
      );
    case ExportKind.AUDIT_LOG:
      return keyset(
        ['id', 'createdAt', 'actorUserId', 'actorApiKeyId', 'action', 'targetType', 'targetId', 'before', 'after'],
        (after) => run(
          `select id, created_at as "createdAt", actor_user_id as "actorUserId", actor_api_key_id as "actorApiKeyId", action,
                  target_type as "targetType", target_id as "targetId", before::text as before, after::text as after,
                  array[to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), id::text] as _k
             from audit_log where organization_id = ? and workspace_id = ? and created_at >= ? and created_at < ?
              and (?::timestamptz is null or (created_at, id) > (?::timestamptz, ?::uuid))
            order by created_at, id limit ${PAGE_SIZE}`,
          [c.organizationId, c.workspaceId, since, until, ...keysetParams(after, 2)],
        ),
      );
  }
}

/** The "after" placeholders of a keyset query: a null flag, then the values (null on the first page). */
function keysetParams(after: unknown[] | null, n: number): unknown[] {
  return after ? [after[0], ...after.slice(0, n)] : [null, ...new Array(n).fill(null)];
}

