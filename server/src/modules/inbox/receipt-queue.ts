import type { Logger } from '../../observability/logger';
import type { DeliveryStatus } from './thread.entity';

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
export class ReceiptQueue {
  private queue: QueuedReceipt[] = [];
  private draining: Promise<void> | null = null;

  constructor(
    private readonly apply: (organizationId: string, receipts: QueuedReceipt[]) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  push(receipt: QueuedReceipt): void {
    this.queue.push(receipt);
    this.draining ??= this.drain();
  }

  /** Resolves once every receipt pushed so far has been applied (or given up on). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      // Receipts reported in the same tick (a provider's callback batch) go in one batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        const byOrganization = new Map<string, QueuedReceipt[]>();
        for (const r of batch) {
          const list = byOrganization.get(r.organizationId);
          if (list) list.push(r);
          else byOrganization.set(r.organizationId, [r]);
        }
        for (const [organizationId, receipts] of byOrganization) await this.applyBatch(organizationId, receipts);
      }
    } finally {
      this.draining = null;
    }
  }

  /** A batch that fails (a lost connection, a deadlock) is retried one receipt at a time, in order. */
  private async applyBatch(organizationId: string, receipts: QueuedReceipt[]): Promise<void> {
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
