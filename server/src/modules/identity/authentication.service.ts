import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode } from '../../graphql/errors';
import type { Principal } from '../../graphql/context';
import type { Clock } from '../../shared/clock';
import { CROSS_TENANT, TENANT_FILTER } from '../../db/tenant';
import { loadAccess } from './access.service';
import { audit } from './audit';
import { ApiKey, Session } from './credentials.entity';
import { Organization, Workspace } from './organization.entity';
import { Role } from './permissions';
import { Membership, User, UserStatus } from './user.entity';
import { hashPassword, hashToken, newToken, tokenKind, verifyPassword } from './secrets';
import type { Throttle } from './throttle';
import { AccessChangeKind, recordAccessChange } from '../../realtime/access-changes';

export const MIN_PASSWORD_LENGTH = 10;
const MAX_PASSWORD_LENGTH = 200;

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

export function checkName(name: string, field = 'name', max = 200): string {
  const n = name.trim();
  if (!n || n.length > max) throw badInput(`${field} must have 1 to ${max} characters`, { field });
  return n;
}

/** The user's organization (cross-tenant by necessity: callers pass only the user id). */
async function organizationOf(em: EntityManager, userId: string): Promise<string> {
  const rows = await em.getConnection().execute<Array<{ organization_id: string }>>('select organization_id from users where id = ?', [userId], 'all', em.getTransactionContext());
  return rows[0]!.organization_id;
}

/** Sessions, API keys and the sign-up / login flows. */
export class AuthenticationService {
  constructor(
    private readonly clock: Clock,
    private readonly sessionTtlMs: number,
    private readonly throttle: Throttle,
  ) {}

  /** Resolves a bearer credential to a principal, against the database every time (never trusted claims). */
  async authenticate(em: EntityManager, token: string): Promise<Principal | null> {
    const kind = tokenKind(token);
    if (kind === 'session') return this.fromSession(em, token);
    if (kind === 'apiKey') return this.fromApiKey(em, token);
    return null;
  }

  private async fromSession(em: EntityManager, token: string): Promise<Principal | null> {
    // Cross-tenant by necessity: the token is what tells us the tenant.
    const session = await em.findOne(Session, { tokenHash: hashToken(token) }, { ...CROSS_TENANT, populate: ['user'] });
    if (!session || session.revokedAt || session.expiresAt <= this.clock.now()) return null;
    const user = session.user.getEntity();
    if (user.status !== UserStatus.ACTIVE) return null;
    const organizationId = session.organization.id;
    em.setFilterParams(TENANT_FILTER, { organizationId });
    return {
      kind: 'user',
      userId: user.id,
      organizationId,
      sessionId: session.id,
      access: await loadAccess(em, organizationId, user.id),
    };
  }

  private async fromApiKey(em: EntityManager, token: string): Promise<Principal | null> {
    const key = await em.findOne(ApiKey, { tokenHash: hashToken(token) }, { ...CROSS_TENANT, populate: ['createdBy'] });
    if (!key || key.revokedAt || key.createdBy.getEntity().status !== UserStatus.ACTIVE) return null;
    const organizationId = key.organization.id;
    em.setFilterParams(TENANT_FILTER, { organizationId });
    // Last use is informative; one write a minute per key at most.
    const now = this.clock.now();
    if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() > 60_000) {
      await em.nativeUpdate(ApiKey, { id: key.id }, { lastUsedAt: now }, CROSS_TENANT);
    }
    return {
      kind: 'apiKey',
      userId: key.createdBy.id,
      organizationId,
      apiKeyId: key.id,
      access: await loadAccess(em, organizationId, key.createdBy.id, {
        workspaceId: key.workspace.id,
        permissions: key.permissions,
      }),
    };
  }

  /** A new organization, its first workspace, and its first OWNER; returns a session token. */
  async signUp(
    em: EntityManager,
    input: { organizationName: string; name: string; email: string; password: string },
  ): Promise<{ token: string; user: User; organization: Organization }> {
    const email = normalizeEmail(input.email);
    checkPassword(input.password);
    const orgName = checkName(input.organizationName, 'organizationName');
    const name = checkName(input.name);
    const passwordHash = await hashPassword(input.password);
    return em.transactional(async (tx) => {
      if (await tx.count(User, { email }, CROSS_TENANT)) {
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
      const token = this.openSession(tx, user);
      const actor = { organizationId: organization.id, userId: user.id };
      audit(tx, actor, { action: 'organization.create', targetType: 'Organization', targetId: organization.id, after: { name: orgName } });
      audit(tx, actor, { action: 'workspace.create', targetType: 'Workspace', targetId: workspace.id, workspaceId: workspace.id, after: { name: orgName } });
      return { token, user, organization };
    });
  }

  /** Password login; throttled per account and per address, with one error for every kind of failure. */
  async login(em: EntityManager, input: { email: string; password: string; clientAddress: string }): Promise<{ token: string; user: User }> {
    const email = input.email.trim().toLowerCase();
    await this.throttle.hit(em, `login:account:${email}`, 10, 15 * 60);
    await this.throttle.hit(em, `login:address:${input.clientAddress}`, 50, 15 * 60);
    // Cross-tenant by necessity: the email is what tells us the tenant.
    const user = await em.findOne(User, { email }, CROSS_TENANT);
    const ok = await verifyPassword(input.password, user?.passwordHash ?? null);
    if (!user || !ok || user.status !== UserStatus.ACTIVE) {
      throw new DomainError(ErrorCode.INVALID_CREDENTIALS, 'Email or password is incorrect');
    }
    em.setFilterParams(TENANT_FILTER, { organizationId: user.organization.id });
    const token = await em.transactional(async (tx) => this.openSession(tx, tx.merge(user)));
    return { token, user };
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

  /** Ends every session of a user (password change, deactivation, "sign out everywhere"). Returns how many. */
  async revokeSessionsOf(em: EntityManager, userId: string): Promise<number> {
    const revoke = async (tx: EntityManager) => {
      const n = await tx.nativeUpdate(Session, { user: userId, revokedAt: null }, { revokedAt: this.clock.now() });
      if (n > 0) await recordAccessChange(tx, await organizationOf(tx, userId), { kind: AccessChangeKind.SESSIONS_REVOKED, userId });
      return n;
    };
    // Inside the caller's transaction when there is one (deactivation), else its own.
    return em.getTransactionContext() ? revoke(em) : em.transactional(revoke);
  }
}
