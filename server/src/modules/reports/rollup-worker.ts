import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { LogConsumer, type LogConsumerOptions, type LoggedEvent } from '../../realtime';
import type { Logger } from '../../observability/logger';
import { applyEvents } from './rollup';

export interface RollupWorkerOptions extends LogConsumerOptions {
  /** The cursor row this worker owns (report_rollup_cursors.name). */
  name?: string;
  /** Test seam: runs inside a batch's transaction after the counters are written, before the cursor moves. */
  beforeCommit?: (events: readonly LoggedEvent[]) => void | Promise<void>;
}

/**
 * Tails the event log into the rollup tables: a durable log consumer (realtime/log-consumer.ts) whose batches
 * write the counters of the events they pass, so no event is counted twice or missed across crashes and
 * processes. `applied` counts the events folded in.
 */
export class RollupWorker extends LogConsumer {
  constructor(orm: MikroORM, logger: Logger, private readonly opts: RollupWorkerOptions = {}) {
    super(orm, logger, opts.name ?? 'conversations', opts);
  }

  protected async apply(tx: EntityManager, events: readonly LoggedEvent[]): Promise<number> {
    await applyEvents(tx, events);
    await this.opts.beforeCommit?.(events);
    return events.length;
  }
}
