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
export type Start = (head: { xid: string; id: string }, em: EntityManager) => Promise<(event: LoggedEvent) => boolean>;

/**
 * One live subscriber's whole lifecycle, shared by every subscription field: registration with the hub
 * (first, at the hub's head, buffering until the start is done), per-event delivery in cursor order,
 * re-authorisation when its socket's principal changes (reloading agent groups), ending with a reason, and
 * metrics. Events are held while the socket's credential is being re-checked, so nothing is delivered on a
 * principal that an access change has already replaced.
 */
export class LiveSubscription<T> implements ConnectionMember {
  principal: Principal;
  groups: readonly string[] = [];
  readonly em: EntityManager;
  readonly queue: PushQueue<T>;
  private readonly connection: LiveConnection | undefined;
  private readonly buffer: LoggedEvent[] = [];
  private started = false;
  private reauthorizing = 0;
  private reflected: (event: LoggedEvent) => boolean = () => false;
  private detach: () => void = () => undefined;
  private endReason: EndReason = 'client';
  private readonly hubSubscriber: LiveSubscriber;
  private readonly endHooks: Array<() => void> = [];

  constructor(
    private readonly ctx: RequestContext,
    private readonly deps: LiveDeps,
    private readonly spec: LiveSpec,
  ) {
    this.principal = ctx.principal!;
    this.connection = connectionOf(ctx);
    this.em = deps.orm.em.fork({ clear: true, useContext: false });
    this.em.setFilterParams(TENANT_FILTER, { organizationId: this.principal.organizationId });
    this.queue = new PushQueue<T>(() => this.closed());
    this.hubSubscriber = {
      organizationId: this.principal.organizationId,
      workspaceIds: new Set(spec.workspaceIds),
      deliver: (event) => this.deliver(event),
      fail: (error) => this.end(error, 'error'),
    };
  }

  /** Registers with the hub at its head, runs `start`, then goes live. */
  async open(start: Start): Promise<AsyncIterableIterator<T>> {
    this.groups = await this.groupsOf(this.em, this.principal);
    // Synchronously: the head and the registration are one step, so no event falls between them.
    const head = this.deps.hub.head();
    this.deps.hub.register(this.hubSubscriber);
    this.deps.metrics?.activeSubscriptions.inc();
    if (this.connection) this.detach = this.connection.attach(this, this.principal);
    try {
      this.reflected = await start(head, this.em);
    } catch (err) {
      this.endReason = 'error';
      this.queue.end();
      throw err;
    }
    this.started = true;
    this.drain();
    return this.queue;
  }

  /** Runs when the subscription ends, for whatever reason. */
  onEnd(hook: () => void): void {
    this.endHooks.push(hook);
  }

  /** The principal's agent groups, loaded only where they can change what it receives. */
  private async groupsOf(em: EntityManager, principal: Principal): Promise<readonly string[]> {
    if (this.spec.groupsMatter && !this.spec.groupsMatter(principal)) return [];
    return loadGroups(em, principal.userId);
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
    this.buffer.length = 0;
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

  private deliver(event: LoggedEvent): void {
    if (!this.holding) return this.handle(event);
    this.buffer.push(event);
    this.checkBacklog(this.buffer.length);
  }

  private handle(event: LoggedEvent): void {
    if (this.reflected(event)) return;
    this.spec.onEvent(event);
  }

  /** Delivers what was held, unless something still holds it. */
  drain(): void {
    while (!this.holding && this.buffer.length) this.handle(this.buffer.shift()!);
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
      const em = this.deps.orm.em.fork({ clear: true, useContext: false });
      em.setFilterParams(TENANT_FILTER, { organizationId: fresh.organizationId });
      this.groups = await this.groupsOf(em, fresh);
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
    this.buffer.length = 0;
    this.end(error, 'revoked');
  }

  private closed(): void {
    this.buffer.length = 0;
    this.deps.hub.unregister(this.hubSubscriber);
    this.detach();
    this.deps.metrics?.activeSubscriptions.dec();
    this.deps.metrics?.subscriptionsEnded.inc({ subscription: this.spec.name, reason: this.endReason });
    for (const hook of this.endHooks.splice(0)) hook();
  }
}
