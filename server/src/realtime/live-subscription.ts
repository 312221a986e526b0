import type { GraphQLError } from 'graphql';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Principal } from '../modules/identity';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../shared/errors';
import { liveError } from '../graphql/errors';
import { TENANT_FILTER } from '../db/tenant';
import { loadGroups } from '../modules/inbox';
import type { Metrics } from '../observability/metrics';
import type { Services } from '../services';
import type { ConnectionMember, LiveConnection } from './connections';
import type { LoggedEvent } from './events';
import type { Hub, LiveSubscriber } from './hub';
import { PushQueue } from './queue';
import { DEFAULT_LIVE_LIMITS, type LiveLimits } from './backpressure';

/** What every live subscription needs from the process. */
export interface LiveDeps {
  hub: Hub;
  orm: MikroORM;
  services: Services;
  metrics?: Metrics;
  dashboards?: import('./dashboards').Dashboards;
  /**
   * Opens a live stream of the event log (live.ts `openLive` bound to these deps): how a module's own
   * subscription field (commerce's orderEvents, campaigns' campaignProgress) reaches the read side of realtime
   * without importing it, which would close an import cycle through the inbox.
   */
  stream(ctx: RequestContext, spec: import('./live').SubscriptionSpec): Promise<AsyncIterableIterator<LoggedEvent>>;
  /** Backpressure per socket (default DEFAULT_LIVE_LIMITS). */
  limits?: LiveLimits;
}

/** Why a subscription ended (metrics label). */
export type EndReason = 'client' | 'forbidden' | 'revoked' | 'failed' | 'error' | 'slow_consumer';

const connections = new WeakMap<RequestContext, LiveConnection>();
const never = (): boolean => false;

/** Ties an operation's context to its socket (websocket.ts): subscriptions opened with it follow the socket's credential. */
export function bindConnection(ctx: RequestContext, connection: LiveConnection): void {
  connections.set(ctx, connection);
}

export function connectionOf(ctx: RequestContext): LiveConnection | undefined {
  return connections.get(ctx);
}

export interface LiveSpec {
  /** Metrics label: the subscription field. */
  name: string;
  workspaceIds: string[];
  /** Whether the subscription may go on at all (checked again on every access change of its socket). */
  allowed(principal: Principal): boolean;
  /** Called for every event after the starting position, in cursor order, never on a stale principal. */
  onEvent(event: LoggedEvent): void;
  /** Whether this principal's agent groups can change what it receives (default: yes; loading them is a query). */
  groupsMatter?(principal: Principal): boolean;
  /** Called after the principal (and groups) were swapped for a narrower or wider one. */
  onReauthorized?(): void;
}

/**
 * Where a subscription starts: `start` runs after the subscription is registered with the hub at position H
 * (every later event is buffered meanwhile). It replays or computes initial state and returns which of the
 * events delivered after H are already reflected in that state (they are skipped).
 */
export type Start = (head: { xid: string; id: string }, fork: () => EntityManager) => Promise<Started>;

/**
 * What a start returns: which later events its state already reflects, and, for a replay longer than a page,
 * how to read the rest: `more()` queues the next page (pushReplay) and says whether another remains. Pages are
 * read as the socket takes the previous one, so a long backlog is never held in memory at once; live events
 * wait (bounded) until the replay is done.
 */
export type Started = ((event: LoggedEvent) => boolean) | { reflected: (event: LoggedEvent) => boolean; more: () => Promise<boolean> };

/** A replay's next page is read once fewer than this many replayed items wait for the socket. */
export const REPLAY_LOW_WATER = 100;

/**
 * Agent groups per principal object: every subscription of a session's sockets shares one load (the registry
 * gives them one Principal). A group change is an access change for its members, which replaces the principal,
 * so a cached entry is never read for a principal whose groups changed after the hub saw it.
 */
const groupsByPrincipal = new WeakMap<Principal, Promise<readonly string[]>>();

/** The principal's agent groups, loaded once per principal object (see groupsByPrincipal). */
export function groupsOfPrincipal(orm: MikroORM, principal: Principal): Promise<readonly string[]> {
  let groups = groupsByPrincipal.get(principal);
  if (!groups) {
    const loading = loadGroups(tenantFork(orm, principal.organizationId), principal.userId);
    groupsByPrincipal.set(principal, (groups = loading));
    loading.catch(() => groupsByPrincipal.get(principal) === loading && groupsByPrincipal.delete(principal));
  }
  return groups;
}

/** One shared set per single workspace: most subscriptions watch one, and a set of one per subscription is waste. */
const singleWorkspaces = new Map<string, ReadonlySet<string>>();
function workspaceSet(workspaceIds: readonly string[]): ReadonlySet<string> {
  if (workspaceIds.length !== 1) return new Set(workspaceIds);
  const id = workspaceIds[0]!;
  let set = singleWorkspaces.get(id);
  if (!set) singleWorkspaces.set(id, (set = new Set([id])));
  return set;
}

function tenantFork(orm: MikroORM, organizationId: string): EntityManager {
  const em = orm.em.fork({ clear: true, useContext: false });
  em.setFilterParams(TENANT_FILTER, { organizationId });
  return em;
}

/**
 * One live subscriber's whole lifecycle, shared by every subscription field: registration with the hub
 * (first, at the hub's head, buffering until the start is done), per-event delivery in cursor order,
 * re-authorisation when its socket's principal changes (reloading agent groups), ending with a reason, and
 * metrics. Events are held while the socket's credential is being re-checked, so nothing is delivered on a
 * principal that an access change has already replaced.
 */
export class LiveSubscription<T> implements ConnectionMember, LiveSubscriber {
  principal: Principal;
  groups: readonly string[] = [];
  readonly queue: PushQueue<T>;
  /** The hub's view of it (LiveSubscriber): the subscription registers itself, no wrapper object or closures. */
  readonly organizationId: string;
  readonly workspaceIds: ReadonlySet<string>;
  private readonly connection: LiveConnection | undefined;
  private buffer: LoggedEvent[] | null = null;
  private started = false;
  private reauthorizing = 0;
  private reflected: (event: LoggedEvent) => boolean = never;
  private detach: (() => void) | null = null;
  private endReason: EndReason = 'client';
  private endHooks: Array<() => void> | null = null;

  constructor(
    private readonly ctx: RequestContext,
    private readonly deps: LiveDeps,
    private readonly spec: LiveSpec,
  ) {
    this.principal = ctx.principal!;
    this.connection = connectionOf(ctx);
    this.organizationId = this.principal.organizationId;
    this.workspaceIds = workspaceSet(spec.workspaceIds);
    this.queue = new PushQueue<T>(this);
  }

  /** Registers with the hub at its head, runs `start`, then goes live. */
  async open(start: Start): Promise<AsyncIterableIterator<T>> {
    this.groups = await this.groupsOf(this.principal);
    // Synchronously: the head and the registration are one step, so no event falls between them.
    const head = this.deps.hub.head();
    this.deps.hub.register(this);
    this.deps.metrics?.activeSubscriptions.inc();
    if (this.connection) this.detach = this.connection.attach(this, this.principal);
    try {
      // An EntityManager only if the start reads (a replay, a snapshot), and only for the start: not kept.
      const organizationId = this.principal.organizationId;
      const started = await start(head, () => tenantFork(this.deps.orm, organizationId));
      if (typeof started === 'function') this.reflected = started;
      else {
        this.reflected = started.reflected;
        void this.replayRest(started.more);
        return this.queue;
      }
    } catch (err) {
      this.endReason = 'error';
      this.queue.end();
      throw err;
    }
    this.started = true;
    this.drain();
    return this.queue;
  }

  /** Reads the rest of a replay a page at a time, as the socket takes them; then goes live. */
  private async replayRest(more: () => Promise<boolean>): Promise<void> {
    try {
      for (;;) {
        await this.queue.whenBelow(REPLAY_LOW_WATER);
        if (this.queue.ended) return;
        if (!(await more())) break;
      }
    } catch {
      this.end(liveError(ErrorCode.UNAVAILABLE, 'Could not read the event log; resubscribe from your last cursor'), 'error');
      return;
    }
    if (this.queue.ended) return;
    this.started = true;
    this.drain();
  }

  /** Queues a page of a replay (read with `more`, see Started). */
  pushReplay(items: readonly T[]): void {
    this.queue.pushReplay(items);
  }

  /** Runs when the subscription ends, for whatever reason. */
  onEnd(hook: () => void): void {
    (this.endHooks ??= []).push(hook);
  }

  /** The principal's agent groups, loaded only where they can change what it receives (once per principal object). */
  private groupsOf(principal: Principal): Promise<readonly string[]> {
    if (this.spec.groupsMatter && !this.spec.groupsMatter(principal)) return Promise.resolve([]);
    return groupsOfPrincipal(this.deps.orm, principal);
  }

  push(item: T): void {
    this.queue.push(item);
    // A replay (pushed while starting) is bounded by the socket's pace, not by the live bound.
    if (this.started) this.checkBacklog(this.queue.size);
  }

  /** Past the socket's bound (events held here, or bytes its peer has not taken), the socket is closed with 4008. */
  private checkBacklog(held: number): void {
    const limits = this.deps.limits ?? DEFAULT_LIVE_LIMITS;
    const buffered = this.connection?.bufferedAmount ?? 0;
    if (held <= limits.maxQueuedEvents && buffered <= limits.maxBufferedBytes) return;
    if (this.connection) this.connection.slowConsumer({ events: held, bytes: buffered });
    else this.shed();
  }

  /** Ends at once, dropping what it holds and sending nothing more (its socket is closing with 4008). */
  shed(): void {
    this.endReason = 'slow_consumer';
    this.buffer = null;
    void this.queue.return();
  }

  /** Ends the stream with an error (FORBIDDEN, UNAVAILABLE...) and records why. */
  end(error: GraphQLError, reason: EndReason): void {
    this.endReason = reason;
    this.queue.fail(error);
  }

  private get holding(): boolean {
    return !this.started || this.reauthorizing > 0 || this.connection?.busy === true;
  }

  /** The hub hands it an event (LiveSubscriber). */
  deliver(event: LoggedEvent): void {
    if (!this.holding) return this.handle(event);
    (this.buffer ??= []).push(event);
    this.checkBacklog(this.buffer.length);
  }

  /** Its delivery threw (LiveSubscriber). */
  fail(error: GraphQLError): void {
    this.end(error, 'error');
  }

  private handle(event: LoggedEvent): void {
    if (this.reflected(event)) return;
    this.spec.onEvent(event);
  }

  /** Delivers what was held, unless something still holds it. */
  drain(): void {
    while (!this.holding && this.buffer?.length) this.handle(this.buffer.shift()!);
    if (this.buffer?.length === 0) this.buffer = null;
  }

  async reauthorize(fresh: Principal): Promise<void> {
    if (fresh === this.principal) return;
    if (!this.spec.allowed(fresh)) {
      this.end(liveError(ErrorCode.FORBIDDEN, 'Your access changed: this subscription has ended'), 'forbidden');
      return;
    }
    this.reauthorizing++;
    try {
      // Group membership is access too (an agent removed from a group stops seeing its threads).
      this.groups = await this.groupsOf(fresh);
      this.principal = fresh;
      this.ctx.principal = fresh;
      this.spec.onReauthorized?.();
    } catch {
      this.end(liveError(ErrorCode.UNAVAILABLE, 'Could not re-check access; resubscribe'), 'failed');
    } finally {
      this.reauthorizing--;
    }
  }

  revoke(error: GraphQLError): void {
    this.buffer = null;
    this.end(error, 'revoked');
  }

  /** The queue closed (PushQueue's owner). */
  closed(): void {
    this.buffer = null;
    this.deps.hub.unregister(this);
    this.detach?.();
    this.detach = null;
    this.deps.metrics?.activeSubscriptions.dec();
    this.deps.metrics?.subscriptionsEnded.inc({ subscription: this.spec.name, reason: this.endReason });
    const hooks = this.endHooks;
    this.endHooks = null;
    for (const hook of hooks ?? []) hook();
  }
}
