import type { EntityManager } from '@mikro-orm/postgresql';

export interface ProviderIdWrite {
  organizationId: string;
  messageId: string;
  providerMessageId: string;
}

type Apply = (em: EntityManager, organizationId: string, writes: ProviderIdWrite[]) => Promise<void>;

/** Writes per transaction at most. */
const MAX_BATCH = 200;

interface Pending extends ProviderIdWrite {
  em: EntityManager;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Provider message ids coalesced: the ids of sends handed to the channel at about the same time (the same tick,
 * or while the previous batch is being written) are written as one transaction per organization, and each
 * caller's promise settles when its own id is committed (a send still answers only once its provider id is
 * stored). One batch runs at a time per process. A batch that fails is retried one write at a time, so one
 * bad write fails only its own caller.
 *
 * A caller already inside a transaction is not queued: its write joins that transaction.
 */
export class ProviderIdQueue {
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;

  constructor(private readonly apply: Apply) {}

  write(em: EntityManager, write: ProviderIdWrite): Promise<void> {
    if (em.getTransactionContext()) return this.apply(em, write.organizationId, [write]);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...write, em, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once every write queued so far has settled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      // Sends handed over in the same tick go in one batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        const byOrganization = new Map<string, Pending[]>();
        for (const w of batch) {
          const list = byOrganization.get(w.organizationId);
          if (list) list.push(w);
          else byOrganization.set(w.organizationId, [w]);
        }
        for (const [organizationId, writes] of byOrganization) await this.applyBatch(organizationId, writes);
      }
    } finally {
      this.draining = null;
    }
  }

  private async applyBatch(organizationId: string, writes: Pending[]): Promise<void> {
    try {
      await this.apply(writes[0]!.em, organizationId, writes);
      for (const w of writes) w.resolve();
      return;
    } catch (err) {
      if (writes.length === 1) {
        writes[0]!.reject(err);
        return;
      }
    }
    for (const w of writes) {
      await this.apply(w.em, organizationId, [w]).then(w.resolve, w.reject);
    }
  }
}
