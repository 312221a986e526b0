import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, forbidden } from '../../shared/errors';
import { checkName } from '../../shared/input';
import type { Principal } from './principal';
import type { SignupMode } from '../../config';
import type { Clock } from '../../shared/clock';
import { CROSS_TENANT, TENANT_FILTER } from '../../db/tenant';
import { sqlQuery } from '../../db/sql-transaction';
import { accessColumns, accessFromRows, type MembershipRow } from './access.service';
import { KnownDevice } from './accounts.entity';
import { actorOf, audit } from './audit';
import { Session } from './credentials.entity';
import { Organization, Workspace } from './organization.entity';
import { Role, type Permission } from './permissions';
import { Membership, User, UserStatus } from './user.entity';
import { hashPassword, hashToken, newToken, tokenKind, verifyPassword } from './secrets';
import type { Throttle } from './throttle';
import { AccessChangeKind, recordAccessChange } from '../../realtime';

export const MIN_PASSWORD_LENGTH = 10;
const MAX_PASSWORD_LENGTH = 200;
/** Login attempts per counter (an account, or one known device) per window; an address gets more. */
export const LOGIN_LIMIT = 10;
export const LOGIN_WINDOW_SECONDS = 15 * 60;
const ADDRESS_LOGIN_LIMIT = 50;
/** A device unused this long is a stranger again. */
const KNOWN_DEVICE_TTL_MS = 90 * 24 * 3_600_000;

export const SIGNUP_CLOSED_MESSAGE =
  'Sign-up is closed on this server (SIGNUP=closed). The first owner is created with `npm run create-owner`; everyone else joins by invitation.';

export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (e.length > 320 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) throw badInput('Not a valid email address', { field: 'email' });
  return e;
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw badInput(`Passwords have ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`, { field: 'password' });
  }
}

/** The user's organization (cross-tenant by necessity: callers pass only the user id). */
async function organizationOf(em: EntityManager, userId: string): Promise<string> {
  const rows = await em.getConnection().execute<Array<{ organization_id: string }>>('select organization_id from users where id = ?', [userId], 'all', em.getTransactionContext());
  return rows[0]!.organization_id;
}

interface AccessRows {
  tree: Array<[string, string[] | null]>;
  memberships: MembershipRow[];
}

interface SessionRow extends AccessRows {
  id: string;
  organization_id: string;
  user_id: string;
}

interface ApiKeyRow extends AccessRows {
  id: string;
  organization_id: string;
  workspace_id: string;
  created_by_id: string;
  permissions: string[];
  last_used_at: Date | null;
}

/** Sessions, API keys and the sign-up / login flows. */
export class AuthenticationService {
  constructor(
    private readonly clock: Clock,
    private readonly sessionTtlMs: number,
    private readonly throttle: Throttle,
    private readonly signup: SignupMode = 'open',
  ) {}

  /**
   * Resolves a bearer credential to a principal, against the database every time (never trusted claims), and
   * sets `em`'s tenant filter to its organization.
   */
  async authenticate(em: EntityManager, token: string): Promise<Principal | null> {
    const principal = await this.principalOf(em, token);
    if (principal) em.setFilterParams(TENANT_FILTER, { organizationId: principal.organizationId });
    return principal;
  }

  /**
   * The principal of a bearer credential, or null when it is unknown, revoked, expired or its user is not
   * active: one plain indexed statement per call (the credential by its hash, its user's status, and the access
   * it grants), no entity and no unit of work, so a revocation or logout takes effect on the very next request.
   * `em` is only the way to the pool: it is not changed (any EntityManager, the global one too).
   */
  async principalOf(em: EntityManager, token: string): Promise<Principal | null> {
    const kind = tokenKind(token);
    if (kind === 'session') return this.fromSession(em, token);
    if (kind === 'apiKey') return this.fromApiKey(em, token);
    return null;
  }

  private async fromSession(em: EntityManager, token: string): Promise<Principal | null> {
    // Cross-tenant by necessity: the token is what tells us the tenant.
    const rows = await sqlQuery<SessionRow>(em,
      `select s.id, s.organization_id, s.user_id, ${accessColumns('s.organization_id', 's.user_id')}
         from sessions s join users u on u.id = s.user_id
        where s.token_hash = ? and s.revoked_at is null and s.expires_at > ? and u.status = ?`,
      [hashToken(token), this.clock.now(), UserStatus.ACTIVE],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      kind: 'user',
      userId: row.user_id,
      organizationId: row.organization_id,
      sessionId: row.id,
      access: accessFromRows(row.organization_id, row.tree, row.memberships),
    };
  }

  private async fromApiKey(em: EntityManager, token: string): Promise<Principal | null> {
    const conn = em.getConnection();
    // Cross-tenant by necessity, as for a session.
    const rows = await sqlQuery<ApiKeyRow>(em,
      `select k.id, k.organization_id, k.workspace_id, k.created_by_id, k.permissions::text[] as permissions, k.last_used_at,
              ${accessColumns('k.organization_id', 'k.created_by_id')}
         from api_keys k join users u on u.id = k.created_by_id
        where k.token_hash = ? and k.revoked_at is null and u.status = ?`,
      [hashToken(token), UserStatus.ACTIVE],
    );
    const key = rows[0];
    if (!key) return null;
    // Last use is informative; one write a minute per key at most.
    const now = this.clock.now();
    if (!key.last_used_at || now.getTime() - new Date(key.last_used_at).getTime() > 60_000) {
      await conn.execute('update api_keys set last_used_at = ? where id = ?', [now, key.id], 'run');
    }
    return {
      kind: 'apiKey',
      userId: key.created_by_id,
      organizationId: key.organization_id,
      apiKeyId: key.id,
      access: accessFromRows(key.organization_id, key.tree, key.memberships, {
        workspaceId: key.workspace_id,
        permissions: key.permissions as Permission[],
      }),
    };
  }

  /** A new organization, its first workspace, and its first OWNER; returns a session token. */
  async signUp(
    em: EntityManager,
    input: { organizationName: string; name: string; email: string; password: string },
  ): Promise<{ token: string; user: User; organization: Organization }> {
    if (this.signup === 'closed') throw forbidden(SIGNUP_CLOSED_MESSAGE);
    return this.createOwner(em, input, (tx, user) => this.openSession(tx, user));
  }

  /**
   * Creates an organization, its first workspace and its first OWNER in one transaction (sign-up, and the
   * `create-owner` CLI of a closed install). `then` runs in the same transaction (sign-up opens a session).
   */
  async createOwner<T = undefined>(
    em: EntityManager,
    input: { organizationName: string; name: string; email: string; password: string },
    then?: (tx: EntityManager, user: User) => T,
  ): Promise<{ token: T; user: User; organization: Organization }> {
    const email = normalizeEmail(input.email);
    checkPassword(input.password);
    const orgName = checkName(input.organizationName, 'organizationName');
    const name = checkName(input.name);
    const passwordHash = await hashPassword(input.password);
    return em.transactional(async (tx) => {
      if (await tx.count(User, { email, passwordHash: { $ne: null } }, CROSS_TENANT)) {
        throw new DomainError(ErrorCode.CONFLICT, 'An account with this email already exists', { field: 'email' });
      }
      const organization = tx.create(Organization, { name: orgName });
      tx.setFilterParams(TENANT_FILTER, { organizationId: organization.id });
      const workspace = tx.create(Workspace, { organization, name: orgName, ancestorIds: [] });
      const user = tx.create(User, {
        organization,
        name,
        email,
        passwordHash,
        status: UserStatus.ACTIVE,
        passwordChangedAt: this.clock.now(),
      });
      tx.create(Membership, { organization, user, workspace: null, roles: [Role.OWNER], addOns: [] });
      const token = then ? then(tx, user) : (undefined as T);
      const actor = { organizationId: organization.id, userId: user.id };
      audit(tx, actor, { action: 'organization.create', targetType: 'Organization', targetId: organization.id, after: { name: orgName } });
      audit(tx, actor, { action: 'workspace.create', targetType: 'Workspace', targetId: workspace.id, workspaceId: workspace.id, after: { name: orgName } });
      return { token, user, organization };
    });
  }

  /**
   * Password login, with one error for every kind of failure. Throttled per account and per address; a
   * known device (one that logged in to this account before and presents its device token) is throttled on
   * its own counter instead, so someone else's wrong guesses never lock the owner out of their own device.
   * A successful login returns a device token: the same one, or a new one for a device not yet known.
   */
  async login(
    em: EntityManager,
    input: { email: string; password: string; clientAddress: string; deviceToken?: string | null },
  ): Promise<{ token: string; user: User; deviceToken: string }> {
    const email = input.email.trim().toLowerCase();
    const device = input.deviceToken ? await this.knownDevice(em, input.deviceToken, email) : null;
    if (device) {
      await this.throttle.hit(em, `login:device:${device.id}`, LOGIN_LIMIT, LOGIN_WINDOW_SECONDS);
    } else {
      await this.throttle.hit(em, `login:account:${email}`, LOGIN_LIMIT, LOGIN_WINDOW_SECONDS);
      await this.throttle.hit(em, `login:address:${input.clientAddress}`, ADDRESS_LOGIN_LIMIT, LOGIN_WINDOW_SECONDS);
    }
    // Cross-tenant by necessity: the email is what tells us the tenant.
    const user = await em.findOne(User, { email, passwordHash: { $ne: null } }, CROSS_TENANT);
    const ok = await verifyPassword(input.password, user?.passwordHash ?? null);
    if (!user || !ok || user.status !== UserStatus.ACTIVE) {
      throw new DomainError(ErrorCode.INVALID_CREDENTIALS, 'Email or password is incorrect');
    }
    em.setFilterParams(TENANT_FILTER, { organizationId: user.organization.id });
    return em.transactional(async (tx) => {
      const token = this.openSession(tx, tx.merge(user));
      let deviceToken = input.deviceToken!;
      if (device) {
        await tx.nativeUpdate(KnownDevice, { id: device.id }, { lastUsedAt: this.clock.now() });
      } else {
        deviceToken = newToken('device');
        tx.create(KnownDevice, { organization: user.organization, user: user.id, tokenHash: hashToken(deviceToken), lastUsedAt: this.clock.now() });
      }
      return { token, user, deviceToken };
    });
  }

  /** The device behind a device token, if it belongs to the account with this email and is still fresh. */
  private async knownDevice(em: EntityManager, deviceToken: string, email: string): Promise<KnownDevice | null> {
    if (tokenKind(deviceToken) !== 'device') return null;
    // Cross-tenant by necessity, like the email lookup it stands beside.
    const device = await em.findOne(KnownDevice, { tokenHash: hashToken(deviceToken) }, { ...CROSS_TENANT, populate: ['user'] });
    if (!device || device.user.getEntity().email !== email) return null;
    const lastSeen = (device.lastUsedAt ?? device.createdAt).getTime();
    return this.clock.now().getTime() - lastSeen < KNOWN_DEVICE_TTL_MS ? device : null;
  }

  /**
   * A signed-in user (never an API key) changes their own password: the current one must be right, the new one
   * follows the sign-up policy; every other session of the user ends, this one stays. Returns how many ended.
   * The caller tells live connections about the access change after commit.
   */
  async changePassword(
    em: EntityManager,
    principal: Principal,
    input: { currentPassword: string; newPassword: string },
  ): Promise<{ revokedSessions: number }> {
    if (principal.kind !== 'user' || !principal.sessionId) {
      throw forbidden('Only a signed-in user can change their password (not an API key)');
    }
    checkPassword(input.newPassword);
    // A stolen session must not become a password-guessing oracle.
    await this.throttle.hit(em, `password:user:${principal.userId}`, LOGIN_LIMIT, LOGIN_WINDOW_SECONDS);
    const current = await em.findOneOrFail(User, { id: principal.userId });
    if (!(await verifyPassword(input.currentPassword, current.passwordHash))) {
      throw new DomainError(ErrorCode.INVALID_CREDENTIALS, 'The current password is incorrect', { field: 'currentPassword' });
    }
    if (input.currentPassword === input.newPassword) {
      throw badInput('The new password must differ from the current one', { field: 'newPassword' });
    }
    const passwordHash = await hashPassword(input.newPassword);
    return em.transactional(async (tx) => {
      const user = await tx.findOneOrFail(User, { id: principal.userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      user.passwordHash = passwordHash;
      user.passwordChangedAt = this.clock.now();
      const revokedSessions = await this.revokeSessionsOf(tx, user.id, principal.sessionId);
      audit(tx, actorOf(principal), {
        action: 'user.password.change',
        targetType: 'User',
        targetId: user.id,
        after: { revokedSessions },
      });
      return { revokedSessions };
    });
  }

  /** Creates a session row in the caller's transaction and returns its token (the only time it exists in clear). */
  openSession(em: EntityManager, user: User): string {
    const token = newToken('session');
    em.create(Session, {
      organization: user.organization,
      user,
      tokenHash: hashToken(token),
      expiresAt: new Date(this.clock.now().getTime() + this.sessionTtlMs),
    });
    return token;
  }

  async logout(em: EntityManager, principal: Principal): Promise<boolean> {
    const sessionId = principal.sessionId;
    if (!sessionId) return false;
    return em.transactional(async (tx) => {
      const n = await tx.nativeUpdate(Session, { id: sessionId, revokedAt: null }, { revokedAt: this.clock.now() });
      if (n > 0) await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.LOGOUT, sessionId });
      return n > 0;
    });
  }

  /**
   * Ends every session of a user but `keepSessionId` (password change, reset, deactivation, "sign out
   * everywhere") and records the access change, so their open sockets close. Returns how many.
   */
  async revokeSessionsOf(em: EntityManager, userId: string, keepSessionId?: string): Promise<number> {
    const where = keepSessionId ? { user: userId, revokedAt: null, id: { $ne: keepSessionId } } : { user: userId, revokedAt: null };
    const revoke = async (tx: EntityManager) => {
      const n = await tx.nativeUpdate(Session, where, { revokedAt: this.clock.now() });
      if (n > 0) await recordAccessChange(tx, await organizationOf(tx, userId), { kind: AccessChangeKind.SESSIONS_REVOKED, userId });
      return n;
    };
    // Inside the caller's transaction when there is one (deactivation, password change), else its own.
    return em.getTransactionContext() ? revoke(em) : em.transactional(revoke);
  }
}
