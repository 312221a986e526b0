import type { GraphQLError } from 'graphql';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Principal } from '../modules/identity';
import { ErrorCode } from '../shared/errors';
import { liveError } from '../graphql/errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { AccessChange } from './events';
import type { Hub } from './hub';
import { ServerCloseCode } from './close-codes';

/** setTimeout's ceiling (about 24.8 days); a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a connection needs from a live subscription running on it (live-subscription.ts). */
export interface ConnectionMember {
  /** The principal the subscription currently authorises with. */
  readonly principal: Principal;
  /** Re-checks against the socket's new principal (reloading what it cached); ends with FORBIDDEN if it no longer holds. */
  reauthorize(principal: Principal): Promise<void>;
  /** Ends the subscription: the credential is gone. */
  revoke(error: GraphQLError): void;
  /** Delivers what arrived while the connection was re-checking. */
  drain(): void;
  /** Ends at once, sending nothing more: the socket is closing for falling behind (4008). */
  shed(): void;
}

export interface SocketHandle {
  close(code: number, reason: string): void;
  /** Bytes written and not yet taken by the peer (ws). */
  readonly bufferedAmount?: number;
}

/** A credential resolved once and shared by every socket that presents it on this process. */
export interface ResolvedCredential {
  principal: Principal;
  /** When a session credential must be re-checked (its expiry); null for API keys. */
  expiresAt: Date | null;
  /** The hub's head taken before it was resolved: changes passed since then are re-checked on registering. */
  authenticatedAt: { xid: string; id: string };
}

export interface RegistryDeps {
  orm: MikroORM;
  /** Resolves a bearer credential against the database (AuthenticationService.authenticate, and the session's expiry). */
  authenticate(orm: MikroORM, token: string): Promise<{ principal: Principal; expiresAt: Date | null } | null>;
  hub: Hub;
  logger: Logger;
  metrics?: Metrics;
}

/**
 * One authenticated socket: its credential, its current principal, and the subscriptions running on it.
 * Sockets are credentials: when an access change concerns this one, the credential is resolved again, once;
 * while that runs, its subscriptions hold their events (nothing is delivered on the old principal after the
 * change is known) and its new operations wait; then the new principal is swapped in, or the socket closes.
 */
export class LiveConnection {
  principal: Principal | null;
  revoked = false;
  private closed = false;
  private readonly members = new Set<ConnectionMember>();
  private checking: Promise<void> | null = null;
  private again = false;

  constructor(
    readonly token: string,
    principal: Principal,
    private readonly socket: SocketHandle,
    private readonly registry: ConnectionRegistry,
  ) {
    this.principal = principal;
  }

  /** True while the credential is being re-resolved: subscriptions buffer, operations wait. */
  get busy(): boolean {
    return this.checking !== null;
  }

  /** Resolves when no re-check is running (the principal to use is then `principal`). */
  async settled(): Promise<void> {
    while (this.checking) await this.checking.catch(() => undefined);
  }

  /** Adds a subscription; one opened on a principal that has since changed re-checks at once. */
  attach(member: ConnectionMember, principalUsed: Principal): () => void {
    if (this.revoked || this.closed) {
      member.revoke(revokedError());
      return () => undefined;
    }
    this.members.add(member);
    // Opened on a principal that has since changed (or is being re-checked now: settled below when it ends).
    if (!this.busy && this.principal && principalUsed !== this.principal) this.catchUp(member);
    return () => this.members.delete(member);
  }

  /** Re-resolves the credential (coalesced: a change during a re-check causes exactly one more). */
  recheck(): void {
    if (this.closed || this.revoked) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = this.run().finally(() => {
      this.checking = null;
      for (const m of [...this.members]) {
        if (this.principal && m.principal !== this.principal) this.catchUp(m);
        else m.drain();
      }
    });
  }

  private catchUp(member: ConnectionMember): void {
    const fresh = this.principal!;
    void member.reauthorize(fresh).catch(() => undefined).then(() => member.drain());
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      const started = Date.now();
      let fresh: Principal | null;
      try {
        // Shared by the session's other sockets: the change that woke them dropped the cached resolution once.
        const resolved = await this.registry.resolve(this.token);
        fresh = resolved?.principal ?? null;
        if (resolved && !this.closed) this.registry.armExpiry(this.token, resolved.principal, resolved.expiresAt);
      } catch (err) {
        // Unable to tell whether the credential holds: fail closed, the client reconnects.
        this.registry.deps.logger.warn({ err }, 'could not re-check a socket credential; closing it');
        this.end(liveError(ErrorCode.UNAVAILABLE, 'Could not re-check your access; reconnect'), ServerCloseCode.TRY_AGAIN_LATER, 'Try again later');
        return;
      }
      if (this.closed) return;
      if (!fresh) {
        this.end(revokedError(), ServerCloseCode.FORBIDDEN, 'Forbidden');
        return;
      }
      this.principal = fresh;
      this.registry.onPrincipal?.(this, fresh);
      await Promise.all([...this.members].map((m) => m.reauthorize(fresh!).catch(() => undefined)));
      this.registry.deps.metrics?.accessRechecks.inc({ outcome: 'kept' });
      this.registry.deps.logger.debug({ ms: Date.now() - started }, 'socket credential re-checked');
    } while (this.again && !this.closed);
  }

  /** Ends every subscription, refuses further operations, and closes the socket. */
  private end(error: GraphQLError, code: number, reason: string): void {
    this.revoked = true;
    this.principal = null;
    this.registry.onPrincipal?.(this, null);
    this.registry.deps.metrics?.accessRechecks.inc({ outcome: code === ServerCloseCode.FORBIDDEN ? 'closed' : 'failed' });
    for (const m of [...this.members]) m.revoke(error);
    this.members.clear();
    // A moment for the subscriptions' errors to go out first; the socket already refuses everything.
    setTimeout(() => this.socket.close(code, reason), 50).unref();
    this.registry.remove(this);
  }

  /** Bytes written to this socket that its peer has not taken yet. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount ?? 0;
  }

  /**
   * The socket fell behind its bound (backpressure.ts): every subscription is dropped now (the hub stops
   * handing it events, its queues are freed) and the socket closes with 4008; the client resumes from its cursor.
   */
  slowConsumer(held: { events: number; bytes: number }): void {
    if (this.closed || this.revoked) return;
    this.revoked = true;
    this.registry.noteSlowConsumer(held);
    const members = [...this.members];
    this.members.clear();
    for (const m of members) m.shed();
    this.socket.close(ServerCloseCode.SLOW_CONSUMER, 'Slow consumer');
    this.registry.remove(this);
  }

  /** The socket closed. */
  dispose(): void {
    this.closed = true;
    this.members.clear();
  }
}

function revokedError(): GraphQLError {
  return liveError(ErrorCode.FORBIDDEN, 'Your credential is no longer valid: this subscription has ended');
}

/** Whether a change concerns a socket authenticated as this principal. */
function concerns(change: AccessChange, principal: Principal): boolean {
  if (!change.userId && !change.sessionId && !change.apiKeyId) return true;
  return change.userId === principal.userId || (!!change.sessionId && change.sessionId === principal.sessionId) || (!!change.apiKeyId && change.apiKeyId === principal.apiKeyId);
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/**
 * This process's open authenticated sockets, indexed by user, session and API key. It watches the hub for its
 * organizations' access changes (the hub reads them from the event log in order, woken by the bus or its
 * poll) and re-checks every affected socket once.
 */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Set<LiveConnection>>();
  private readonly bySession = new Map<string, Set<LiveConnection>>();
  private readonly byApiKey = new Map<string, Set<LiveConnection>>();
  private readonly byOrganization = new Map<string, { connections: Set<LiveConnection>; unwatch: () => void }>();
  private readonly indexed = new Map<LiveConnection, Principal>();
  /**
   * Credentials resolved (or being resolved) on this process, by token: every socket of a session shares one
   * resolution and one Principal object (so one cached view in shared-execution.ts). Dropped by the access
   * changes the hub reads from the log (accessChanged below), on expiry, and when the last socket closes.
   */
  private readonly credentials = new Map<string, Promise<ResolvedCredential | null>>();
  private readonly socketsByToken = new Map<string, number>();
  /**
   * A session credential's expiry, one timer per token (not per socket): when it fires, the token's
   * resolution is dropped and every socket presenting it re-checks (and closes, the session being gone).
   */
  private readonly expiries = new Map<string, { at: number; sessionId: string; timer: NodeJS.Timeout }>();
  /** The most one socket held when it was closed for falling behind (metrics). */
  private readonly heldMax = { events: 0, bytes: 0 };
  /** Told when a socket's principal changes (the websocket layer keeps its own copy). */
  onPrincipal?: (connection: LiveConnection, principal: Principal | null) => void;

  constructor(readonly deps: RegistryDeps) {}

  /** The credential behind a token, resolved once for all the sockets that present it (null: refused). */
  resolve(token: string): Promise<ResolvedCredential | null> {
    const cached = this.credentials.get(token);
    if (cached) return cached;
    const authenticatedAt = this.deps.hub.head();
    const resolving: Promise<ResolvedCredential | null> = this.deps.authenticate(this.deps.orm, token).then((r) => (r ? { ...r, authenticatedAt } : null));
    this.credentials.set(token, resolving);
    const drop = () => {
      if (this.credentials.get(token) === resolving) this.credentials.delete(token);
    };
    resolving.then(
      (r) => {
        // A refusal is not kept; nor is a resolution no socket registers (the socket went away meanwhile).
        if (!r) drop();
        else if (!this.socketsByToken.has(token)) setTimeout(() => !this.socketsByToken.has(token) && drop(), 1_000).unref();
      },
      drop,
    );
    return resolving;
  }

  /** Forgets a token's resolution: the next socket or re-check resolves it again. */
  forget(token: string): void {
    this.credentials.delete(token);
  }

  /**
   * Registers an authenticated socket. `authenticatedAt` is the hub's head taken before its credential was
   * resolved: a change the hub passed since then, which concerns it, is re-checked at once.
   */
  add(token: string, credential: ResolvedCredential, socket: SocketHandle): LiveConnection {
    const { principal, expiresAt, authenticatedAt } = credential;
    const connection = new LiveConnection(token, principal, socket, this);
    this.socketsByToken.set(token, (this.socketsByToken.get(token) ?? 0) + 1);
    this.indexed.set(connection, principal);
    addTo(this.byUser, principal.userId, connection);
    if (principal.sessionId) addTo(this.bySession, principal.sessionId, connection);
    if (principal.apiKeyId) addTo(this.byApiKey, principal.apiKeyId, connection);
    let org = this.byOrganization.get(principal.organizationId);
    if (!org) {
      const organizationId = principal.organizationId;
      const connections = new Set<LiveConnection>();
      const unwatch = this.deps.hub.watchAccess({ organizationId, accessChanged: (change) => this.accessChanged(connections, change) });
      this.byOrganization.set(organizationId, (org = { connections, unwatch }));
    }
    org.connections.add(connection);
    this.armExpiry(token, principal, expiresAt);
    const missed = this.deps.hub.accessChangesAfter(authenticatedAt, principal.organizationId);
    if (missed === null || missed.some((change) => concerns(change, principal))) {
      // Resolved before a change that concerns it: neither this socket nor the next may use that resolution.
      this.forget(token);
      connection.recheck();
    }
    return connection;
  }

  remove(connection: LiveConnection): void {
    const principal = this.indexed.get(connection);
    if (!principal) return;
    this.indexed.delete(connection);
    const sockets = (this.socketsByToken.get(connection.token) ?? 1) - 1;
    if (sockets > 0) this.socketsByToken.set(connection.token, sockets);
    else {
      this.socketsByToken.delete(connection.token);
      this.forget(connection.token);
      this.disarmExpiry(connection.token);
    }
    removeFrom(this.byUser, principal.userId, connection);
    if (principal.sessionId) removeFrom(this.bySession, principal.sessionId, connection);
    if (principal.apiKeyId) removeFrom(this.byApiKey, principal.apiKeyId, connection);
    const org = this.byOrganization.get(principal.organizationId);
    if (org) {
      org.connections.delete(connection);
      if (org.connections.size === 0) {
        org.unwatch();
        this.byOrganization.delete(principal.organizationId);
      }
    }
  }

  get size(): number {
    return this.indexed.size;
  }

  /** Arms (or moves) the expiry of a session token its sockets share; an API key (no expiry) has none. */
  armExpiry(token: string, principal: Principal, expiresAt: Date | null): void {
    const current = this.expiries.get(token);
    const sessionId = principal.sessionId;
    if (!expiresAt || !sessionId || !this.socketsByToken.has(token)) {
      if (current) this.disarmExpiry(token);
      return;
    }
    const at = expiresAt.getTime();
    if (current?.at === at) return;
    if (current) clearTimeout(current.timer);
    const delay = Math.min(Math.max(at - Date.now() + 10, 0), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      if (this.expiries.get(token)?.timer !== timer) return;
      this.expiries.delete(token);
      // Resolved again by the first re-check, for all of them: refused once the session has expired.
      this.forget(token);
      for (const c of [...(this.bySession.get(sessionId) ?? [])]) if (c.token === token) c.recheck();
    }, delay);
    timer.unref();
    this.expiries.set(token, { at, sessionId, timer });
  }

  private disarmExpiry(token: string): void {
    const current = this.expiries.get(token);
    if (!current) return;
    clearTimeout(current.timer);
    this.expiries.delete(token);
  }

  noteSlowConsumer(held: { events: number; bytes: number }): void {
    const metrics = this.deps.metrics;
    metrics?.slowConsumerCloses.inc();
    this.heldMax.events = Math.max(this.heldMax.events, held.events);
    this.heldMax.bytes = Math.max(this.heldMax.bytes, held.bytes);
    metrics?.slowConsumerHeld.set({ kind: 'events' }, this.heldMax.events);
    metrics?.slowConsumerHeld.set({ kind: 'bytes' }, this.heldMax.bytes);
  }

  private accessChanged(organizationSockets: ReadonlySet<LiveConnection>, change: AccessChange): void {
    const affected = new Set<LiveConnection>();
    if (!change.userId && !change.sessionId && !change.apiKeyId) {
      for (const c of organizationSockets) affected.add(c);
    }
    if (change.userId) for (const c of this.byUser.get(change.userId) ?? []) affected.add(c);
    if (change.sessionId) for (const c of this.bySession.get(change.sessionId) ?? []) affected.add(c);
    if (change.apiKeyId) for (const c of this.byApiKey.get(change.apiKeyId) ?? []) affected.add(c);
    // Synchronously, before the hub delivers any later event: the affected sockets' subscriptions hold from here,
    // and their cached resolution is dropped, so the first re-check resolves the credential again for all of them.
    for (const c of affected) this.forget(c.token);
    for (const c of affected) c.recheck();
  }
}
