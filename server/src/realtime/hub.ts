import type { MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLError } from 'graphql';
import { ErrorCode } from '../shared/errors';
import { liveError } from '../graphql/errors';
import type { Logger } from '../observability/logger';
import type { EventBus } from './bus/event-bus';
import { ACCESS_CHANGED, compareCursor, type AccessChange, type LoggedEvent } from './events';
import { readLog, safeHead } from './event-log';
import { runDetached } from '../observability/request-scope';

export const WAKE_CHANNEL_PREFIX = 'sb:ws:';
/** Access changes remembered for sockets that were authenticating while the hub passed them. */
const RECENT_ACCESS_CHANGES = 1_000;

/** One read of the tailer (see Hub.audit). */
export interface HubRead {
  after: { xid: string; id: string };
  floor: string;
  line: string;
  snapshot: string;
  nonWriters: string;
  returned: string[];
}

/** One live subscription, as the hub sees it. */
export interface LiveSubscriber {
  organizationId: string;
  workspaceIds: ReadonlySet<string>;
  /** Called in cursor order; the subscriber skips what it already delivered and decides from cached state. */
  deliver(event: LoggedEvent): void;
  /** Ends the subscription with this error (its delivery threw). */
  fail(error: GraphQLError): void;
}

/** Whoever enforces access changes for an organization's sockets on this process (the socket registry). */
export interface AccessWatcher {
  organizationId: string;
  /** Called in log order, before any later event is delivered to this process's subscribers. */
  accessChanged(change: AccessChange, event: LoggedEvent): void;
}

/**
 * One tailer per process: a wake-up (a Redis message, a local commit, or the poll timer) reads the event log
 * from the process's cursor up to the safe line, once, and fans each event out to the local subscribers of
 * its workspace, and each access change to the organization's socket registry. Redis messages are only
 * wake-ups: losing one delays delivery (and enforcement) until the next poll, never loses it.
 */
export class Hub {
  private cursor: { xid: string; id: string } = { xid: '0', id: '0' };
  /** The highest safe line proven so far: the line itself may dip back, the hub's reads never do. */
  private line = '0';
  private readonly byWorkspace = new Map<string, Set<LiveSubscriber>>();
  private readonly watchers = new Map<string, Set<AccessWatcher>>();
  /** Bus channels held open, by channel key (a workspace id, or an organization id for access changes). */
  private readonly channels = new Map<string, { refs: number; release: Promise<() => Promise<void>> }>();
  private reading: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly recentAccess: Array<{ xid: string; id: string; organizationId: string; change: AccessChange }> = [];
  delivered = 0;
  /**
   * Every read of the tailer with its snapshot and proof, when SB_HUB_AUDIT=1 (diagnosing delivery in the
   * chaos tests: an event the hub passed without reading shows which read's line was wrong).
   */
  readonly audit: HubRead[] | null = process.env.SB_HUB_AUDIT === '1' ? [] : null;

  constructor(
    private readonly orm: MikroORM,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly pollMs = 500,
  ) {}

  async start(): Promise<void> {
    this.cursor = await safeHead(this.orm.em.fork());
    this.timer = setInterval(() => {
      // Open sockets must hear of access changes even with no subscription running.
      if (this.byWorkspace.size || this.watchers.size) this.wake();
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reading?.catch(() => undefined);
    for (const { release } of this.channels.values()) await (await release.catch(() => null))?.().catch(() => undefined);
    this.channels.clear();
  }

  /** Where the tailer is: every event at or below it has been delivered (and is committed). */
  head(): { xid: string; id: string } {
    return this.cursor;
  }

  private holdChannel(key: string): void {
    const held = this.channels.get(key);
    if (held) {
      held.refs++;
      return;
    }
    const release = this.bus.subscribe(WAKE_CHANNEL_PREFIX + key, () => this.wake());
    release.catch((err) => this.logger.warn({ err: (err as Error).message }, 'bus subscribe failed; polling'));
    this.channels.set(key, { refs: 1, release });
  }

  private dropChannel(key: string): void {
    const held = this.channels.get(key);
    if (!held || --held.refs > 0) return;
    this.channels.delete(key);
    void held.release.then((fn) => fn()).catch(() => undefined);
  }

  register(sub: LiveSubscriber): void {
    for (const ws of sub.workspaceIds) {
      let set = this.byWorkspace.get(ws);
      if (!set) this.byWorkspace.set(ws, (set = new Set()));
      if (!set.has(sub)) {
        set.add(sub);
        this.holdChannel(ws);
      }
    }
  }

  unregister(sub: LiveSubscriber): void {
    for (const ws of sub.workspaceIds) {
      const set = this.byWorkspace.get(ws);
      if (!set?.delete(sub)) continue;
      if (set.size === 0) this.byWorkspace.delete(ws);
      this.dropChannel(ws);
    }
  }

  /** Access changes of this organization go to `watcher` (and wake this process) until the returned function is called. */
  watchAccess(watcher: AccessWatcher): () => void {
    let set = this.watchers.get(watcher.organizationId);
    if (!set) this.watchers.set(watcher.organizationId, (set = new Set()));
    set.add(watcher);
    this.holdChannel(watcher.organizationId);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      set.delete(watcher);
      if (set.size === 0 && this.watchers.get(watcher.organizationId) === set) this.watchers.delete(watcher.organizationId);
      this.dropChannel(watcher.organizationId);
    };
  }

  get subscriberCount(): number {
    const all = new Set<LiveSubscriber>();
    for (const set of this.byWorkspace.values()) for (const sub of set) all.add(sub);
    return all.size;
  }

  /** Wakes every process that serves these workspaces (or organizations, for access changes) after a commit. */
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
      const floor = this.line;
      const after = this.cursor;
      const { events: batch, line, snapshot, nonWriters } = await readLog(em, after, 500, floor, undefined, this.audit !== null);
      this.audit?.push({ after, floor, line, snapshot: snapshot ?? '', nonWriters: nonWriters ?? '', returned: batch.map((e) => `${e.xid}:${e.id}`) });
      this.line = line;
      for (const event of batch) {
        this.cursor = { xid: event.xid, id: event.id };
        if (event.type === ACCESS_CHANGED) this.fanOutAccess(event);
        else this.fanOut(event);
      }
      if (batch.length < 500) return;
    }
  }

  /**
   * The access changes of an organization the hub passed after `position` (null: too many to tell, so treat
   * the credential as changed). A socket authenticated at `position` and registered now re-checks if one
   * concerns it: it was not in the registry when the change went by.
   */
  accessChangesAfter(position: { xid: string; id: string }, organizationId: string): AccessChange[] | null {
    const oldest = this.recentAccess[0];
    if (this.recentAccess.length >= RECENT_ACCESS_CHANGES && oldest && compareCursor(oldest, position) > 0) return null;
    return this.recentAccess.filter((e) => e.organizationId === organizationId && compareCursor(e, position) > 0).map((e) => e.change);
  }

  private fanOutAccess(event: LoggedEvent): void {
    const change = event.payload.access;
    if (!change) return;
    this.recentAccess.push({ xid: event.xid, id: event.id, organizationId: event.organizationId, change });
    if (this.recentAccess.length > RECENT_ACCESS_CHANGES) this.recentAccess.shift();
    for (const watcher of [...(this.watchers.get(event.organizationId) ?? [])]) {
      try {
        watcher.accessChanged(change, event);
      } catch (err) {
        this.logger.error({ err, eventId: event.id }, 'an access watcher threw');
      }
    }
  }

  private fanOut(event: LoggedEvent): void {
    for (const sub of [...(this.byWorkspace.get(event.workspaceId) ?? [])]) {
      if (sub.organizationId !== event.organizationId) continue;
      // One subscriber's failure never costs the others this event.
      try {
        sub.deliver(event);
        this.delivered++;
      } catch (err) {
        this.logger.error({ err, eventId: event.id }, 'a live subscriber threw on delivery; ending it');
        this.unregister(sub);
        try {
          sub.fail(liveError(ErrorCode.UNAVAILABLE, 'This subscription failed; resubscribe with your last cursor'));
        } catch {
          // already logged
        }
      }
    }
  }
}
