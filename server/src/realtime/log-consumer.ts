import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { runDetached } from '../observability/request-scope';
import type { Logger } from '../observability/logger';
import { readLog, type LogPosition } from './event-log';
import type { LoggedEvent } from './events';

export interface LogConsumerOptions {
  /** How often the consumer looks at the log without a wake-up (another process's commits). */
  pollMs?: number;
  batchSize?: number;
}

/**
 * A durable follower of the event log, for work that must see every committed event exactly once (report
 * rollups, shortcode keywords). Its position is a named row of `report_rollup_cursors` (the table is named
 * after its first user), moved in the same transaction as what `apply` writes for the events it passes: after
 * a crash it resumes exactly where the last committed batch ended. Several processes may each run one: a batch
 * locks the cursor row and is dropped (and re-read) when another consumer moved the cursor first, so no event
 * is applied twice. Reads go up to the log's safe line (readLog), like the hub, keeping the highest line
 * proven as a floor.
 */
export abstract class LogConsumer {
  private line = '0';
  private reading: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  protected stopped = false;
  private readonly batchSize: number;
  /** What `apply` reported applying so far (metrics, tests). */
  applied = 0;

  constructor(
    protected readonly orm: MikroORM,
    protected readonly logger: Logger,
    /** The cursor row this consumer owns (report_rollup_cursors.name). */
    private readonly cursorName: string,
    private readonly options: LogConsumerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
  }

  /** Writes what a batch of events means, inside the batch's transaction; returns how many it applied. */
  protected abstract apply(tx: EntityManager, events: readonly LoggedEvent[]): Promise<number>;

  /** Work after each pass over the log, outside any transaction (e.g. handing replies to a channel). */
  protected afterPass(): Promise<unknown> {
    return Promise.resolve();
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.options.pollMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reading?.catch(() => undefined);
  }

  /** Schedules one pass over the log; wake-ups during a pass cause exactly one more. */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = runDetached(async () => {
      await this.drain();
      await this.afterPass();
    })
      .then(() => undefined)
      .catch((err) => this.logger.warn({ err: (err as Error).message, consumer: this.cursorName }, 'event log consumer failed; will retry'))
      .finally(() => {
        this.reading = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Where the consumer is: every event at or below this position is applied. */
  position(): Promise<LogPosition> {
    return this.readCursor(this.orm.em.fork(), false);
  }

  /** Applies every event up to the safe line; returns how many events this call passed. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.stopped) return total;
      const em = this.orm.em.fork();
      const from = await this.readCursor(em, false);
      const { events, line } = await readLog(em, from, this.batchSize, this.line);
      this.line = line;
      if (!events.length) return total;
      const last = events[events.length - 1]!;
      const applied = await em.transactional(async (tx) => {
        const locked = await this.readCursor(tx, true);
        // Another consumer passed these events first: they are applied; read again from where it stopped.
        if (locked.xid !== from.xid || locked.id !== from.id) return null;
        const n = await this.apply(tx, events);
        await tx.getConnection().execute(
          `update report_rollup_cursors set xid = ?::xid8, event_id = ?::bigint, updated_at = now() where name = ?`,
          [last.xid, last.id, this.cursorName],
          'run',
          tx.getTransactionContext(),
        );
        return n;
      });
      if (applied !== null) {
        total += events.length;
        this.applied += applied;
      }
      if (applied !== null && events.length < this.batchSize) return total;
    }
  }

  private async readCursor(em: EntityManager, lock: boolean): Promise<LogPosition> {
    const rows = await em.getConnection().execute<Array<{ xid: string; id: string }>>(
      `select xid::text as xid, event_id::text as id from report_rollup_cursors where name = ?${lock ? ' for update' : ''}`,
      [this.cursorName],
      'all',
      em.getTransactionContext(),
    );
    if (!rows[0]) throw new Error(`report_rollup_cursors has no row ${this.cursorName}`);
    return rows[0];
  }
}
