import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidArray } from '../../db/tenant';
import { badInput } from '../../shared/errors';
import { assertPeriod, periodBounds, type Period } from './policy';

/**
 * The payment report: orders (by the local day they were created, in the workspace's time zone) and their
 * payments, per currency, in minor units. Read with SQL over commerce's tables (orders, payments): the reports
 * module cannot import commerce (commerce imports the inbox, which imports reports), and a report reads no
 * entity behaviour, only rows. Sums are Postgres numerics returned as strings and checked against the safe
 * integer range, like commerce's own totals (money.ts).
 */
export enum PaymentReportGroupBy {
  CURRENCY = 'CURRENCY',
  DAY = 'DAY',
  AGENT = 'AGENT',
  STATUS = 'STATUS',
  WORKSPACE = 'WORKSPACE',
}

export const ORDER_STATUSES = ['DRAFT', 'PLACED', 'REJECTED', 'PAID', 'FULFILLED', 'CANCELLED'] as const;

export interface PaymentReportFilters {
  /** Order statuses to include (default: every status but DRAFT). */
  statuses?: string[] | null;
  currencies?: string[] | null;
}

export interface PaymentReportRow {
  /** The day (YYYY-MM-DD), agent (order creator) id, order status or workspace id; the currency for CURRENCY. */
  key: string;
  currency: string;
  orders: number;
  /** Sum of the orders' totals. */
  orderedAmount: number;
  /** Sum of what was reconciled against them (orders.paid_amount). */
  paidAmount: number;
  /** Ordered minus paid, for orders not cancelled. */
  outstandingAmount: number;
  payments: number;
  pendingPaymentAmount: number;
  reconciledPaymentAmount: number;
  rejectedPaymentAmount: number;
}

export interface PaymentReport {
  workspaceIds: string[];
  period: Period;
  groupBy: PaymentReportGroupBy;
  rows: PaymentReportRow[];
  /** One row per currency over everything (amounts in different currencies are never added). */
  totals: PaymentReportRow[];
}

const KEY: Record<PaymentReportGroupBy, string> = {
  CURRENCY: 'o.currency',
  DAY: `to_char(o.created_at at time zone coalesce(s.time_zone, 'UTC'), 'YYYY-MM-DD')`,
  AGENT: 'o.created_by_id::text',
  STATUS: 'o.status::text',
  WORKSPACE: 'o.workspace_id::text',
};

function money(value: string | null, field: string): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n)) throw badInput(`The ${field} of this report is beyond the safe integer range; narrow the period`, { reason: 'AMOUNT_TOO_LARGE' });
  return n;
}

interface Raw {
  key: string;
  currency: string;
  orders: string;
  ordered: string;
  paid: string;
  outstanding: string;
  payments: string;
  pending: string;
  reconciled: string;
  rejected: string;
}

function toRow(r: Raw): PaymentReportRow {
  return {
    key: r.key,
    currency: r.currency,
    orders: Number(r.orders),
    orderedAmount: money(r.ordered, 'ordered amount'),
    paidAmount: money(r.paid, 'paid amount'),
    outstandingAmount: money(r.outstanding, 'outstanding amount'),
    payments: Number(r.payments),
    pendingPaymentAmount: money(r.pending, 'pending amount'),
    reconciledPaymentAmount: money(r.reconciled, 'reconciled amount'),
    rejectedPaymentAmount: money(r.rejected, 'rejected amount'),
  };
}

export async function paymentReport(
  em: EntityManager,
  organizationId: string,
  workspaceIds: string[],
  period: Period,
  groupBy: PaymentReportGroupBy,
  filters: PaymentReportFilters = {},
): Promise<PaymentReport> {
  assertPeriod(period);
  const statuses = filters.statuses ?? ORDER_STATUSES.filter((s) => s !== 'DRAFT');
  const bad = statuses.find((s) => !(ORDER_STATUSES as readonly string[]).includes(s));
  if (bad !== undefined) throw badInput(`Unknown order status ${bad}`, { field: 'filter.statuses', reason: 'UNKNOWN_STATUS', allowed: ORDER_STATUSES });
  const currencies = filters.currencies ?? null;
  if (currencies?.some((c) => !/^[A-Z]{3}$/.test(c))) throw badInput('A currency is three capital letters (ISO 4217)', { field: 'filter.currencies' });
  const { start, end } = periodBounds(period);
  const aggregate = (key: string) =>
    em.getConnection().execute<Raw[]>(
      `with o as (
         select o.*, ${key} as key from orders o
           left join workspace_settings s on s.organization_id = o.organization_id and s.workspace_id = o.workspace_id
          where o.organization_id = ? and o.workspace_id = any(?::uuid[]) and o.deleted_at is null
            and o.status::text = any(?::text[]) and (?::text[] is null or o.currency = any(?::text[]))
            and o.created_at >= ?::timestamptz - interval '1 day' and o.created_at < ?::timestamptz + interval '1 day'
            and (o.created_at at time zone coalesce(s.time_zone, 'UTC')) >= ?::timestamp
            and (o.created_at at time zone coalesce(s.time_zone, 'UTC')) < ?::timestamp),
       p as (
         select o.key, o.currency, count(p.id) as payments,
                coalesce(sum(p.amount) filter (where p.status = 'PENDING'), 0) as pending,
                coalesce(sum(p.amount) filter (where p.status = 'RECONCILED'), 0) as reconciled,
                coalesce(sum(p.amount) filter (where p.status = 'REJECTED'), 0) as rejected
           from o join payments p on p.organization_id = o.organization_id and p.order_id = o.id
          group by 1, 2)
       select o.key, o.currency, count(*) as orders, sum(o.total_amount) as ordered, sum(o.paid_amount) as paid,
              coalesce(sum(o.total_amount - o.paid_amount) filter (where o.status <> 'CANCELLED'), 0) as outstanding,
              coalesce(max(p.payments), 0) as payments, coalesce(max(p.pending), 0) as pending,
              coalesce(max(p.reconciled), 0) as reconciled, coalesce(max(p.rejected), 0) as rejected
         from o left join p on p.key = o.key and p.currency = o.currency
        group by o.key, o.currency order by o.key, o.currency`,
      [organizationId, uuidArray(workspaceIds), `{${statuses.join(',')}}`, currencies ? `{${currencies.join(',')}}` : null, currencies ? `{${currencies.join(',')}}` : null,
        `${start}+00`, `${end}+00`, start, end],
    );
  const [rows, totals] = await Promise.all([aggregate(KEY[groupBy]), aggregate('o.currency')]);
  return { workspaceIds, period, groupBy, rows: rows.map(toRow), totals: totals.map(toRow) };
}
