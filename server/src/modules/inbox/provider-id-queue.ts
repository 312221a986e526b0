import type { EntityManager } from '@mikro-orm/postgresql';
import { OrganizationBatches } from './organization-batches';

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
 * Provider message ids coalesced (OrganizationBatches): the ids of sends handed to the channel at about the same
 * time are written as one transaction per organization, and each caller's promise settles when its own id is
 * committed (a send still answers only once its provider id is stored). A batch that fails is retried one
 * write at a time, so one bad write fails only its own caller.
 *
 * A caller already inside a transaction is not queued: its write joins that transaction.
 */
export class ProviderIdQueue extends OrganizationBatches<Pending> {
  constructor(private readonly apply: Apply) {
    super(MAX_BATCH);
  }

  write(em: EntityManager, write: ProviderIdWrite): Promise<void> {
    if (em.getTransactionContext()) return this.apply(em, write.organizationId, [write]);
    return new Promise<void>((resolve, reject) => this.enqueue({ ...write, em, resolve, reject }));
  }

  protected async applyBatch(organizationId: string, writes: Pending[]): Promise<void> {
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
