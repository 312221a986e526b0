import { TransactionEventBroadcaster } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * A transaction for hand-written statements, without `em.transactional`'s unit of work: no flush, no change
 * sets, no identity map merged back into the caller's EntityManager. The hot writes (a send, an inbound
 * message, a batch of delivery receipts) run their few statements through `tx.getConnection().execute(...,
 * tx.getTransactionContext())` and never persist an entity, so that machinery was pure overhead per message.
 *
 * The transaction is begun, committed and rolled back by the ORM's own connection with the ORM's transaction
 * events, on the same pool, so everything registered on the EntityManager's event manager runs exactly as for
 * `em.transactional`: EventWriterLock takes the event-writer lock as the first statement (afterTransactionStart),
 * and WakeupSubscriber publishes the workspaces of the appended events once, after commit only
 * (afterTransactionCommit; afterTransactionRollback drops them).
 *
 * `tx` is a fork of `em` (clear, its own identity map) bound to the transaction: reads through it (an entity
 * loaded for a rare branch, say a template) run in the transaction, but nothing created or changed through it is
 * ever flushed. A callback that persists an entity is a bug, and is refused at commit.
 *
 * Called with an EntityManager already in a transaction, it is `em.transactional` (a savepoint of that one).
 */
export async function plainTransaction<T>(em: EntityManager, cb: (tx: EntityManager) => Promise<T>): Promise<T> {
  if (em.getTransactionContext()) return em.transactional(cb);
  const tx = em.fork({ clear: true, useContext: false });
  const conn = tx.getConnection('write');
  const events = new TransactionEventBroadcaster(tx, undefined, { topLevelTransaction: true });
  const trx = await conn.begin({ eventBroadcaster: events });
  tx.setTransactionContext(trx);
  try {
    const ret = await cb(tx);
    if (tx.getUnitOfWork(false).getPersistStack().size || tx.getUnitOfWork(false).getRemoveStack().size) {
      throw new Error('plainTransaction never flushes: persist the entity with em.transactional instead');
    }
    await conn.commit(trx, events);
    return ret;
  } catch (err) {
    await conn.rollback(trx, events);
    throw err;
  } finally {
    tx.resetTransactionContext();
  }
}
