import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../observability/logger';
import type { EventBus } from './bus/event-bus';
import type { LoggedEvent } from './events';
import { readLog, safeHead } from './event-log';
import { runDetached } from '../observability/request-scope';

export const WAKE_CHANNEL_PREFIX = 'sb:ws:';
export const ACCESS_CHANNEL = 'sb:access';

/** One live subscription, as the hub sees it. */
export interface LiveSubscriber {
  organizationId: string;
  userId: string;
  workspaceIds: ReadonlySet<string>;
  /** Called in cursor order; the subscriber skips what it already delivered and decides from cached state. */
  deliver(event: LoggedEvent): void;
  /** The user's access changed somewhere: re-check (one query per affected subscriber, not per event). */
  accessChanged(): void;
}

/**
 * One tailer per process: a wake-up (a Redis message, a local commit, or the poll timer) reads the event log
 * from the process's cursor up to the safe line, once, and fans each event out to the local subscribers of
 * its workspace. Redis messages are only wake-ups: losing one delays delivery until the next poll, never
 * loses an event.
 */
export class Hub {
  private cursor: { xid: string; id: string } = { xid: '0', id: '0' };
  /** The highest safe line proven so far: the line itself may dip back, the hub's reads never do. */
  private line = '0';
  private readonly byWorkspace = new Map<string, Set<LiveSubscriber>>();
  private readonly byUser = new Map<string, Set<LiveSubscriber>>();
  private readonly channelRelease = new Map<string, Promise<() => Promise<void>>>();
  private reading: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private releaseAccess: (() => Promise<void>) | null = null;
  delivered = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly pollMs = 500,
  ) {}

  async start(): Promise<void> {
    this.cursor = await safeHead(this.orm.em.fork());
    this.releaseAccess = await this.bus
      .subscribe(ACCESS_CHANNEL, (message) => {
        try {
          const { userId } = JSON.parse(message) as { organizationId: string; userId: string };
          this.localAccessChanged(userId);
        } catch {
          // not ours
        }
      })
      .catch(() => null);
    this.timer = setInterval(() => {
      if (this.byWorkspace.size) this.wake();
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reading?.catch(() => undefined);
    await this.releaseAccess?.().catch(() => undefined);
    for (const release of this.channelRelease.values()) await (await release.catch(() => null))?.().catch(() => undefined);
  }

  /** Where the tailer is: a new subscription replays from its own cursor up to here, then goes live. */
  head(): { xid: string; id: string } {
    return this.cursor;
  }

  register(sub: LiveSubscriber): void {
    for (const ws of sub.workspaceIds) {
      let set = this.byWorkspace.get(ws);
      if (!set) {
        this.byWorkspace.set(ws, (set = new Set()));
        this.channelRelease.set(ws, this.bus.subscribe(WAKE_CHANNEL_PREFIX + ws, () => this.wake()));
        this.channelRelease.get(ws)!.catch((err) => this.logger.warn({ err: (err as Error).message }, 'bus subscribe failed; polling'));
      }
      set.add(sub);
    }
    let mine = this.byUser.get(sub.userId);
    if (!mine) this.byUser.set(sub.userId, (mine = new Set()));
    mine.add(sub);
  }

  unregister(sub: LiveSubscriber): void {
    for (const ws of sub.workspaceIds) {
      const set = this.byWorkspace.get(ws);
      if (!set) continue;
      set.delete(sub);
      if (set.size === 0) {
        this.byWorkspace.delete(ws);
        const release = this.channelRelease.get(ws);
        this.channelRelease.delete(ws);
        void release?.then((fn) => fn()).catch(() => undefined);
      }
    }
    const mine = this.byUser.get(sub.userId);
    mine?.delete(sub);
    if (mine?.size === 0) this.byUser.delete(sub.userId);
  }

  get subscriberCount(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /** Tells every process (this one included) that a user's access changed. */
  async publishAccessChanged(organizationId: string, userId: string): Promise<void> {
    this.localAccessChanged(userId);
    await this.bus.publish(ACCESS_CHANNEL, JSON.stringify({ organizationId, userId }));
  }

  private localAccessChanged(userId: string): void {
    // The re-checks serve live subscriptions, not the request that changed the access.
    runDetached(() => {
      for (const sub of [...(this.byUser.get(userId) ?? [])]) sub.accessChanged();
    });
  }

  /** Wakes every process that serves these workspaces (after a commit). */
  async publishWakeups(workspaceIds: readonly string[]): Promise<void> {
    this.wake();
    await Promise.all(workspaceIds.map((ws) => this.bus.publish(WAKE_CHANNEL_PREFIX + ws, '1')));
  }

  /** Schedules one read of the log; wake-ups during a read cause exactly one more read. */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    // A commit may wake the tailer, but the read serves every subscriber: it belongs to no request.
    this.reading = runDetached(() => this.tail())
      .catch((err) => this.logger.warn({ err: (err as Error).message }, 'event tail failed; will retry'))
      .finally(() => {
        this.reading = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async tail(): Promise<void> {
    const em = this.orm.em.fork();
    for (;;) {
      const { events: batch, line } = await readLog(em, this.cursor, 500, this.line);
      this.line = line;
      for (const event of batch) {
        this.cursor = { xid: event.xid, id: event.id };
        for (const sub of [...(this.byWorkspace.get(event.workspaceId) ?? [])]) {
          if (sub.organizationId !== event.organizationId) continue;
          sub.deliver(event);
          this.delivered++;
        }
      }
      if (batch.length < 500) return;
    }
  }
}
