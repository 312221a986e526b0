import type { EntityManager } from '@mikro-orm/postgresql';
import { CROSS_TENANT } from '../../db/tenant';
import type { Logger } from '../../observability/logger';
import type { Clock } from '../../shared/clock';
import { emitThreadEvent, EventType } from './events';
import { Thread, ThreadStatus } from './thread.entity';

/** How many due threads one sweep wakes per transaction (a backlog takes several rounds). */
const WAKE_BATCH = 500;
/** How often each process sweeps for snoozes that have run out. */
export const SNOOZE_SWEEP_MS = 15_000;

/**
 * Snoozed threads whose time has come become OPEN, persisted, each with a THREAD_UPDATED event, inside the
 * caller's transaction. `scope` limits it to one workspace (takeNextThread wakes its queue before picking);
 * null sweeps every organization (the periodic sweep). SKIP LOCKED: concurrent sweepers share the work.
 */
export async function wakeDueThreads(tx: EntityManager, now: Date, scope: { organizationId: string; workspaceId: string } | null): Promise<number> {
  const where = scope ? 'organization_id = ? and workspace_id = ? and ' : '';
  const rows = await tx.getConnection().execute<Array<{ id: string }>>(
    `select id from threads where ${where}status = 'SNOOZED' and snoozed_until <= ? order by snoozed_until limit ${WAKE_BATCH} for update skip locked`,
    [...(scope ? [scope.organizationId, scope.workspaceId] : []), now],
    'all',
    tx.getTransactionContext(),
  );
  if (!rows.length) return 0;
  const threads = await tx.find(Thread, { id: { $in: rows.map((r) => r.id) } }, { ...CROSS_TENANT, refresh: true });
  for (const thread of threads) {
    thread.status = ThreadStatus.OPEN;
    thread.snoozedUntil = null;
    await emitThreadEvent(tx, EventType.THREAD_UPDATED, thread);
  }
  await tx.flush();
  return threads.length;
}

/** One sweep over every organization, in batches, each batch one transaction. */
export async function sweepSnoozes(em: EntityManager, clock: Clock): Promise<number> {
  let total = 0;
  for (;;) {
    const woken = await em.fork({ clear: true, useContext: false }).transactional((tx) => wakeDueThreads(tx, clock.now(), null));
    total += woken;
    if (woken < WAKE_BATCH) return total;
  }
}

/** The periodic sweep of one process; returns its stop function. */
export function startSnoozeSweeper(em: EntityManager, clock: Clock, logger: Logger, everyMs = SNOOZE_SWEEP_MS): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepSnoozes(em, clock)
      .catch((err) => logger.warn({ err }, 'snooze sweep failed'))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
