import type { Logger } from '../../observability/logger';
import type { DeliveryStatus } from './thread.entity';
import { OrganizationBatches } from './organization-batches';

export interface QueuedReceipt {
  organizationId: string;
  providerMessageId: string;
  status: DeliveryStatus;
  error?: string | null;
}

/** Receipts applied per transaction at most (a statement's parameters stay well within Postgres' limit). */
const MAX_BATCH = 500;

/**
 * Delivery receipts coalesced: receipts that arrive together (the same tick, or while the previous batch is
 * being written) are applied as one transaction per organization, in arrival order. One batch runs at a time
 * per process, so a message's SENT is always applied before (or in the same batch as) its later DELIVERED;
 * across processes the row lock and the forward-only status rule keep them right, as for single receipts.
 */
export class ReceiptQueue extends OrganizationBatches<QueuedReceipt> {
  constructor(
    private readonly apply: (organizationId: string, receipts: QueuedReceipt[]) => Promise<unknown>,
    private readonly logger: Logger,
  ) {
    super(MAX_BATCH);
  }

  push(receipt: QueuedReceipt): void {
    this.enqueue(receipt);
  }

  /** A batch that fails (a lost connection, a deadlock) is retried one receipt at a time, in order. */
  protected async applyBatch(organizationId: string, receipts: QueuedReceipt[]): Promise<void> {
    try {
      await this.apply(organizationId, receipts);
      return;
    } catch (err) {
      if (receipts.length === 1) {
        this.logger.warn({ err, providerMessageId: receipts[0]!.providerMessageId }, 'could not apply a delivery receipt');
        return;
      }
      this.logger.warn({ err, receipts: receipts.length }, 'a batch of delivery receipts failed; applying them one by one');
    }
    for (const r of receipts) {
      await this.apply(organizationId, [r]).catch((err) => this.logger.warn({ err, providerMessageId: r.providerMessageId }, 'could not apply a delivery receipt'));
    }
  }
}
