import type { EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';

/**
 * Every transaction that may append events takes this shared transaction-level advisory lock as its first
 * statement, before it has a transaction id. The event log's safe line (realtime/event-log.ts) is then held
 * only by event writers: a running transaction without the lock will never append an event, so it may be
 * passed. Shared mode: writers never wait on each other, and nothing ever takes it exclusively.
 */
export const EVENT_WRITER_LOCK = { classId: 0x53424556, objectId: 1 } as const;
export const TAKE_EVENT_WRITER_LOCK = `select pg_advisory_xact_lock_shared(${EVENT_WRITER_LOCK.classId}, ${EVENT_WRITER_LOCK.objectId})`;

/**
 * Takes the event-writer lock at the start of every ORM transaction (savepoints excluded: the outer
 * transaction holds it already). Registered in ormConfig, so everything writing through the ORM follows the
 * protocol; a writer outside the ORM must run TAKE_EVENT_WRITER_LOCK first itself.
 */
export class EventWriterLock implements EventSubscriber {
  async afterTransactionStart(args: TransactionEventArgs): Promise<void> {
    const trx = args.transaction as { raw?: (sql: string) => PromiseLike<unknown> } | undefined;
    if (trx?.raw) await trx.raw(TAKE_EVENT_WRITER_LOCK);
  }
}
