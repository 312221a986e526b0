import type { GraphQLError } from 'graphql';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Principal } from '../modules/identity';
import { ErrorCode } from '../shared/errors';
import { liveError } from '../graphql/errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { AccessChange } from './events';
import type { Hub } from './hub';

/** The 4403 close code graphql-ws uses for Forbidden: the socket's credential no longer holds. */
export const CLOSE_FORBIDDEN = 4403;
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
}

export interface SocketHandle {
  close(code: number, reason: string): void;
}

export interface RegistryDeps {
  orm: MikroORM;
  /** Resolves a bearer credential against the database (AuthenticationService.authenticate). */
  authenticate(orm: MikroORM, token: string): Promise<Principal | null>;
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
  private expiryTimer: NodeJS.Timeout | null = null;
  expiresAt: Date | null = null;

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
        fresh = await this.registry.deps.authenticate(this.registry.deps.orm, this.token);
      } catch (err) {
        // Unable to tell whether the credential holds: fail closed, the client reconnects.
        this.registry.deps.logger.warn({ err }, 'could not re-check a socket credential; closing it');
        this.end(liveError(ErrorCode.UNAVAILABLE, 'Could not re-check your access; reconnect'), 1013, 'Try again later');
        return;
      }
      if (this.closed) return;
      if (!fresh) {
        this.end(revokedError(), CLOSE_FORBIDDEN, 'Forbidden');
        return;
      }
      this.principal = fresh;
      this.registry.onPrincipal?.(this, fresh);
      await Promise.all([...this.members].map((m) => m.reauthorize(fresh!).catch(() => undefined)));
      this.registry.deps.metrics?.accessRechecks.inc({ outcome: 'kept' });
      this.registry.deps.logger.debug({ ms: Date.now() - started }, 'socket credential re-checked');
    } while (this.again && !this.closed);
    this.armExpiry();
  }

  /** Ends every subscription, refuses further operations, and closes the socket. */
  private end(error: GraphQLError, code: number, reason: string): void {
    this.revoked = true;
    this.principal = null;
    this.registry.onPrincipal?.(this, null);
    this.registry.deps.metrics?.accessRechecks.inc({ outcome: code === CLOSE_FORBIDDEN ? 'closed' : 'failed' });
    for (const m of [...this.members]) m.revoke(error);
    this.members.clear();
    // A moment for the subscriptions' errors to go out first; the socket already refuses everything.
    setTimeout(() => this.socket.close(code, reason), 50).unref();
    this.registry.remove(this);
  }

  /** A session socket closes when its session expires (checked against the database at that moment). */
  armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (!this.expiresAt || this.closed || this.revoked) return;
    const delay = Math.min(Math.max(this.expiresAt.getTime() - Date.now() + 10, 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => this.recheck(), delay);
    this.expiryTimer.unref();
  }

  /** The socket closed. */
  dispose(): void {
    this.closed = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
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
  /** Told when a socket's principal changes (the websocket layer keeps its own copy). */
  onPrincipal?: (connection: LiveConnection, principal: Principal | null) => void;

  constructor(readonly deps: RegistryDeps) {}

  /**
   * Registers an authenticated socket. `authenticatedAt` is the hub's head taken before its credential was
   * resolved: a change the hub passed since then, which concerns it, is re-checked at once.
   */
  add(token: string, principal: Principal, socket: SocketHandle, expiresAt: Date | null, authenticatedAt: { xid: string; id: string }): LiveConnection {
    const connection = new LiveConnection(token, principal, socket, this);
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
    connection.expiresAt = expiresAt;
    connection.armExpiry();
    const missed = this.deps.hub.accessChangesAfter(authenticatedAt, principal.organizationId);
    if (missed === null || missed.some((change) => concerns(change, principal))) connection.recheck();
    return connection;
  }

  remove(connection: LiveConnection): void {
    const principal = this.indexed.get(connection);
    if (!principal) return;
    this.indexed.delete(connection);
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

  private accessChanged(organizationSockets: ReadonlySet<LiveConnection>, change: AccessChange): void {
    const affected = new Set<LiveConnection>();
    if (!change.userId && !change.sessionId && !change.apiKeyId) {
      for (const c of organizationSockets) affected.add(c);
    }
    if (change.userId) for (const c of this.byUser.get(change.userId) ?? []) affected.add(c);
    if (change.sessionId) for (const c of this.bySession.get(change.sessionId) ?? []) affected.add(c);
    if (change.apiKeyId) for (const c of this.byApiKey.get(change.apiKeyId) ?? []) affected.add(c);
    // Synchronously, before the hub delivers any later event: the affected sockets' subscriptions hold from here.
    for (const c of affected) c.recheck();
  }
}
