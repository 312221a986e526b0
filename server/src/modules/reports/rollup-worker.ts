import type { MikroORM } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/postgresql';
import { readLog, type LogPosition } from '../../realtime';
import type { LoggedEvent } from '../../realtime';
import { runDetached } from '../../observability/request-scope';
import type { Logger } from '../../observability/logger';
import { applyEvents } from './rollup';

export interface RollupWorkerOptions {
  /** How often the worker looks at the log without a wake-up (another process's commits). */
  pollMs?: number;
  batchSize?: number;
  /** The cursor row this worker owns (report_rollup_cursors.name). */
  name?: string;
  /** Test seam: runs inside a batch's transaction after the counters are written, before the cursor moves. */
  beforeCommit?: (events: readonly LoggedEvent[]) => void | Promise<void>;
}

async function readCursor(em: EntityManager, name: string, lock: boolean): Promise<LogPosition> {
  const rows = await em.getConnection().execute<Array<{ xid: string; id: string }>>(
    `select xid::text as xid, event_id::text as id from report_rollup_cursors where name = ?${lock ? ' for update' : ''}`,
    [name],
    'all',
    em.getTransactionContext(),
  );
  if (!rows[0]) throw new Error(`report_rollup_cursors has no row ${name}`);
  return rows[0];
}

/**
 * Tails the event log into the rollup tables. Its position is a row of report_rollup_cursors, moved in the
 * same transaction as the counters of the events it passes: after a crash the worker resumes exactly where
 * the last committed batch ended. Several processes may each run one: a batch locks the cursor row and is
 * dropped (and re-read) when another worker moved the cursor first, so no event is ever counted twice.
 *
 * Reads go up to the event log's safe line (readLog), like the hub, keeping the highest line proven as a floor.
 */
export class RollupWorker {
  private line = '0';
  private reading: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly name: string;
  private readonly batchSize: number;
  /** Events this worker has folded into the rollups (metrics, tests). */
  applied = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly opts: RollupWorkerOptions = {},
  ) {
    this.name = opts.name ?? 'conversations';
    this.batchSize = opts.batchSize ?? 1000;
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.opts.pollMs ?? 1000);
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
    this.reading = runDetached(() => this.drain())
      .then(() => undefined)
      .catch((err) => this.logger.warn({ err: (err as Error).message }, 'report rollup failed; will retry'))
      .finally(() => {
        this.reading = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Where the rollups are: every event at or below this position is counted. */
  position(): Promise<LogPosition> {
    return readCursor(this.orm.em.fork(), this.name, false);
  }

  /** Folds every event up to the safe line into the rollups; returns how many this call applied. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.stopped) return total;
      const em = this.orm.em.fork();
      const from = await readCursor(em, this.name, false);
      const { events, line } = await readLog(em, from, this.batchSize, this.line);
      this.line = line;
      if (!events.length) return total;
      const last = events[events.length - 1]!;
      const moved = await em.transactional(async (tx) => {
        const locked = await readCursor(tx, this.name, true);
        // Another worker passed these events first: they are counted; read again from where it stopped.
        if (locked.xid !== from.xid || locked.id !== from.id) return false;
        await applyEvents(tx, events);
        await this.opts.beforeCommit?.(events);
        await tx.getConnection().execute(
          `update report_rollup_cursors set xid = ?::xid8, event_id = ?::bigint, updated_at = now() where name = ?`,
          [last.xid, last.id, this.name],
          'run',
          tx.getTransactionContext(),
        );
        return true;
      });
      if (moved) {
        total += events.length;
        this.applied += events.length;
      }
      if (moved && events.length < this.batchSize) return total;
    }
  }
}
