import type { EventSubscriber, TransactionEventArgs } from '@mikro-orm/core';
import { takeWakeups } from './event-log';

/**
 * After a transaction that appended events commits, wake the tailers of every process serving those
 * workspaces. Publishing happens only after commit: a subscriber never hears of an event it cannot read yet.
 */
export class WakeupSubscriber implements EventSubscriber {
  constructor(private readonly publish: (workspaceIds: string[]) => void) {}

  afterTransactionCommit(args: TransactionEventArgs): void {
    const workspaces = takeWakeups(args.transaction as object | undefined);
    if (workspaces.length) this.publish(workspaces);
  }

  afterTransactionRollback(args: TransactionEventArgs): void {
    takeWakeups(args.transaction as object | undefined);
  }
}
