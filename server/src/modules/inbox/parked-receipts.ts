import type { EntityManager } from '@mikro-orm/postgresql';
import { pgTextArray, type SqlTx } from '../../db/sql-transaction';
import type { DeliveryStatus } from './thread.entity';

/**
 * Parked delivery receipts (table `parked_receipts`, Migration20261201000500). A receipt whose provider
 * message id matches no message yet (a broadcast batch writes its messages after the provider calls, a plain
 * send writes the provider id after its call) is parked instead of dropped, and the writer of the message
 * applies it in the transaction that makes the message visible. Both sides take a transaction-scoped advisory
 * lock per provider message id first, so exactly one of them sees the other's commit: the receipt side
 * looks again for the message under the lock (and parks only when it still finds none); the writer takes the
 * parked receipts under the lock. Parked receipts older than PARKED_RECEIPT_TTL_MS are swept away.
 */
export const PARKED_RECEIPT_TTL_MS = 24 * 3_600_000;

export interface ParkedReceipt {
  providerMessageId: string;
  status: DeliveryStatus;
  error?: string | null;
}

const textArray = pgTextArray;

/**
 * The statement fragment (a scalar subquery) that locks, until the transaction ends, the given provider message
 * ids of an organization, in the order of their keys (no deadlocks): for a caller that folds the lock into a
 * statement of its own. The lock holds from that statement on; read what it guards in a later statement.
 */
export function providerMessageIdsLock(organizationId: string, providerMessageIds: readonly string[]): { sql: string; params: unknown[] } {
  return {
    sql: `(select count(pg_advisory_xact_lock(h)) from (select distinct hashtextextended(?::text || ':' || k, 0) as h from unnest(?::text[]) as k order by 1) s)`,
    params: [organizationId, textArray([...providerMessageIds])],
  };
}

/** Locks (until the transaction ends) the given provider message ids of an organization, in the order of their keys (no deadlocks). */
export async function lockProviderMessageIds(tx: SqlTx, organizationId: string, providerMessageIds: readonly string[]): Promise<void> {
  if (!providerMessageIds.length) return;
  const lock = providerMessageIdsLock(organizationId, providerMessageIds);
  await tx.all(`select ${lock.sql}`, lock.params);
}

/** Parks receipts (under lockProviderMessageIds), in the order given; drops the organization's expired ones on the way. */
export async function parkReceipts(tx: SqlTx, organizationId: string, receipts: readonly ParkedReceipt[], now: Date): Promise<void> {
  if (!receipts.length) return;
  await tx.all(
    `insert into parked_receipts (organization_id, provider_message_id, status, error, received_at)
     select ?::uuid, x.pid, x.status, x.error, ?::timestamptz from unnest(?::text[], ?::text[], ?::text[]) with ordinality as x(pid, status, error, n) order by x.n`,
    [organizationId, now, textArray(receipts.map((r) => r.providerMessageId)), textArray(receipts.map((r) => r.status)), textArray(receipts.map((r) => r.error ?? null))]
  );
}

/** Removes and returns (under lockProviderMessageIds) the parked receipts of these provider message ids, in arrival order. */
export async function takeParkedReceipts(tx: SqlTx, organizationId: string, providerMessageIds: readonly string[]): Promise<ParkedReceipt[]> {
  if (!providerMessageIds.length) return [];
  const rows = await tx.all<{ id: string; provider_message_id: string; status: DeliveryStatus; error: string | null }>(
    `with d as (delete from parked_receipts where organization_id = ? and provider_message_id = any(?::text[]) returning id, provider_message_id, status, error)
     select * from d order by id`,
    [organizationId, textArray([...providerMessageIds])]
  );
  return rows.map((r) => ({ providerMessageId: r.provider_message_id, status: r.status, error: r.error }));
}

/** Deletes parked receipts received before `before` (all organizations: a system sweep); returns how many. */
export async function sweepParkedReceipts(em: EntityManager, before: Date): Promise<number> {
  const res = await em.getConnection().execute<{ affectedRows?: number }>(`delete from parked_receipts where received_at < ?`, [before], 'run');
  return Number(res.affectedRows ?? 0);
}
