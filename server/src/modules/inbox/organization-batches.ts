/**
 * Work items coalesced into batches, one batch per organization: items that arrive together (the same tick, or
 * while the previous batch is being written) are applied together, in arrival order. One batch runs at a time
 * per process. The delivery-receipt queue and the provider-id queue are both this.
 */
export abstract class OrganizationBatches<T extends { organizationId: string }> {
  private queue: T[] = [];
  private draining: Promise<void> | null = null;

  constructor(private readonly maxBatch: number) {}

  /** Applies one organization's batch, in order; settles its items itself (errors included). */
  protected abstract applyBatch(organizationId: string, items: T[]): Promise<void>;

  protected enqueue(item: T): void {
    this.queue.push(item);
    this.draining ??= this.drain();
  }

  /** Resolves once every item enqueued so far has been applied (or given up on). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      // Items enqueued in the same tick go in one batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        const byOrganization = new Map<string, T[]>();
        for (const item of batch) {
          const list = byOrganization.get(item.organizationId);
          if (list) list.push(item);
          else byOrganization.set(item.organizationId, [item]);
        }
        for (const [organizationId, items] of byOrganization) await this.applyBatch(organizationId, items);
      }
    } finally {
      this.draining = null;
    }
  }
}
