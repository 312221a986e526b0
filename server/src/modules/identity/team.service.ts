import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Principal } from './principal';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import type { Clock } from '../../shared/clock';
import { CROSS_TENANT, TENANT_FILTER, uuidArray } from '../../db/tenant';
import { actorOf, audit } from './audit';
import { checkPassword, normalizeEmail, type AuthenticationService } from './authentication.service';
import { checkName } from '../../shared/input';
import { ApiKey, Invitation, InvitationStatus } from './credentials.entity';
import type { Mailer } from './mailer';
import { Organization, Workspace } from './organization.entity';
import { AddOn, Permission, Role } from './permissions';
import {
  assertGrantShape,
  assertKeepsAnOwner,
  assertMayChange,
  assertMayGrant,
  assertMayManageUser,
  assertMayReadUsersIn,
  assertMaySetAvailabilityOf,
  assertUserPrincipal,
  managesUserSomewhere,
  personOf,
  workspacesWhereUsersAreRead,
  type GrantSpec,
  type Level,
} from './policy';
import { hashPassword, hashToken, newToken } from './secrets';
import { appendEvent } from '../../realtime';
import { AccessChangeKind, recordAccessChange } from '../../realtime';
import { EventType } from '../../realtime';
import type { Throttle } from './throttle';
import { Availability, CustomRole, Membership, User, UserStatus } from './user.entity';

export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;

export interface InviteInput {
  email: string;
  name?: string | null;
  roles: Role[];
  addOns: AddOn[];
  workspaceId: string | null;
}

export interface MembershipInput {
  userId: string;
  workspaceId: string | null;
  roles: Role[];
  addOns: AddOn[];
  /** Null keeps the membership's custom roles as they are. */
  customRoleIds?: string[] | null;
}

function specOf(m: { roles: Role[]; addOns: AddOn[]; customRoleIds?: string[] } | null | undefined): GrantSpec | null {
  return m ? { roles: m.roles, addOns: m.addOns, customRoleIds: m.customRoleIds ?? [] } as GrantSpec : null;
}

/** The permissions custom roles carry (unknown ids are NOT_FOUND: they may belong to another organization). */
async function customPermissionsOf(em: EntityManager, ids: readonly string[]): Promise<Permission[]> {
  if (!ids.length) return [];
  const roles = await em.find(CustomRole, { id: { $in: [...ids] } });
  if (roles.length !== new Set(ids).size) throw notFound('Custom role');
  return [...new Set(roles.flatMap((r) => r.permissions))];
}

function dedupe<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** Invitations, memberships, deactivation and availability: the team page. */
export class TeamService {
  constructor(
    private readonly clock: Clock,
    private readonly mailer: Mailer,
    private readonly authentication: AuthenticationService,
    private readonly throttle: Throttle,
    private readonly publicUrl: string,
  ) {}

  private async workspace(em: EntityManager, workspaceId: string | null): Promise<Workspace | null> {
    if (workspaceId === null) return null;
    const ws = await em.findOne(Workspace, { id: workspaceId });
    if (!ws) throw notFound('Workspace');
    return ws;
  }

  /** Active owners other than this user. */
  private async otherActiveOwners(em: EntityManager, organizationId: string, userId: string): Promise<number> {
    const rows = await em.getConnection().execute<{ n: string }[]>(
      `select count(distinct m.user_id) as n from memberships m join users u on u.id = m.user_id
        where m.organization_id = ? and u.organization_id = ? and 'OWNER' = any(m.roles) and u.status = 'ACTIVE' and m.user_id <> ?`,
      [organizationId, organizationId, userId],
      'all',
      em.getTransactionContext(),
    );
    return Number(rows[0]?.n ?? 0);
  }

  private acceptUrl(token: string): string {
    return `${this.publicUrl.replace(/\/$/, '')}/accept-invitation#token=${token}`;
  }

  async invite(em: EntityManager, principal: Principal, input: InviteInput): Promise<{ invitation: Invitation; acceptToken: string }> {
    const email = normalizeEmail(input.email);
    const spec = { roles: dedupe(input.roles), addOns: dedupe(input.addOns) };
    if (!spec.roles.length) throw badInput('An invitation needs at least one role', { field: 'roles' });
    assertMayGrant(principal.access, Permission.USERS_INVITE, input.workspaceId, spec);
    const token = newToken('invitation');
    const result = await em.transactional(async (tx) => {
      const workspace = await this.workspace(tx, input.workspaceId);
      // Invitations are per organization: another organization's users (or invitees) are neither an
      // obstacle nor revealed here. An address that already logs in elsewhere is refused at acceptance.
      let user = await tx.findOne(User, { email });
      if (user && user.status === UserStatus.ACTIVE) {
        throw new DomainError(ErrorCode.CONFLICT, 'Already a member: change their roles with updateMembership', { field: 'email' });
      }
      if (user && user.status === UserStatus.DEACTIVATED && user.passwordHash) {
        throw new DomainError(ErrorCode.CONFLICT, 'This user is deactivated: reactivate them instead', { field: 'email' });
      }
      const pending = user ? await tx.findOne(Invitation, { user, acceptedAt: null, revokedAt: null, expiresAt: { $gt: this.clock.now() } }) : null;
      if (pending) throw new DomainError(ErrorCode.CONFLICT, 'Already invited: resend the invitation instead', { invitationId: pending.id });
      const organization = tx.getReference(Organization, principal.organizationId);
      if (!user) {
        user = tx.create(User, { organization, email, name: input.name ? checkName(input.name) : email.split('@')[0]!, status: UserStatus.INVITED });
      } else {
        user.status = UserStatus.INVITED;
        user.deactivatedAt = null;
        if (input.name) user.name = checkName(input.name);
      }
      const invitation = tx.create(Invitation, {
        organization,
        email,
        user,
        workspace,
        roles: spec.roles,
        addOns: spec.addOns,
        invitedBy: tx.getReference(User, principal.userId),
        tokenHash: hashToken(token),
        expiresAt: new Date(this.clock.now().getTime() + INVITATION_TTL_MS),
      });
      audit(tx, actorOf(principal), {
        action: 'invitation.create',
        targetType: 'Invitation',
        targetId: invitation.id,
        workspaceId: input.workspaceId,
        after: { email, roles: spec.roles, addOns: spec.addOns, workspaceId: input.workspaceId },
      });
      const mail = this.mailer.queue(tx, {
        organizationId: principal.organizationId,
        to: email,
        subject: 'You are invited to Switchboard',
        body: `You have been invited to join Switchboard. Accept within 7 days: ${this.acceptUrl(token)}`,
      });
      return { invitation, mail };
    });
    await this.mailer.flush(result.mail);
    return { invitation: result.invitation, acceptToken: token };
  }

  /** A new token and a new 7-day window; the old token stops working. */
  async resendInvitation(em: EntityManager, principal: Principal, invitationId: string): Promise<{ invitation: Invitation; acceptToken: string }> {
    const token = newToken('invitation');
    const result = await em.transactional(async (tx) => {
      const invitation = await tx.findOne(Invitation, { id: invitationId });
      if (!invitation) throw notFound('Invitation');
      assertMayGrant(principal.access, Permission.USERS_INVITE, invitation.workspaceId, invitation);
      const status = invitation.statusAt(this.clock.now());
      if (status === InvitationStatus.ACCEPTED) throw new DomainError(ErrorCode.INVITATION_USED, 'This invitation was already accepted');
      if (status === InvitationStatus.REVOKED) throw new DomainError(ErrorCode.INVITATION_REVOKED, 'This invitation was revoked');
      invitation.tokenHash = hashToken(token);
      invitation.expiresAt = new Date(this.clock.now().getTime() + INVITATION_TTL_MS);
      audit(tx, actorOf(principal), { action: 'invitation.resend', targetType: 'Invitation', targetId: invitation.id, workspaceId: invitation.workspaceId });
      const mail = this.mailer.queue(tx, {
        organizationId: principal.organizationId,
        to: invitation.email,
        subject: 'Your Switchboard invitation',
        body: `Your invitation was renewed. Accept within 7 days: ${this.acceptUrl(token)}`,
      });
      return { invitation, mail };
    });
    await this.mailer.flush(result.mail);
    return { invitation: result.invitation, acceptToken: token };
  }

  async revokeInvitation(em: EntityManager, principal: Principal, invitationId: string): Promise<Invitation> {
    return em.transactional(async (tx) => {
      const invitation = await tx.findOne(Invitation, { id: invitationId }, { populate: ['user'] });
      if (!invitation) throw notFound('Invitation');
      assertMayGrant(principal.access, Permission.USERS_INVITE, invitation.workspaceId, invitation);
      if (invitation.acceptedAt) throw new DomainError(ErrorCode.INVITATION_USED, 'This invitation was already accepted');
      if (invitation.revokedAt) return invitation;
      invitation.revokedAt = this.clock.now();
      const user = invitation.user.getEntity();
      // An invitee who never joined leaves the INVITED list; an existing member keeps their status.
      if (user.status === UserStatus.INVITED) {
        user.status = UserStatus.DEACTIVATED;
        user.deactivatedAt = this.clock.now();
      }
      audit(tx, actorOf(principal), { action: 'invitation.revoke', targetType: 'Invitation', targetId: invitation.id, workspaceId: invitation.workspaceId });
      return invitation;
    });
  }

  /** The invitee sets a name and password; the invitation becomes a membership and a session. */
  async acceptInvitation(
    em: EntityManager,
    input: { token: string; name: string; password: string; clientAddress: string },
  ): Promise<{ token: string; user: User }> {
    await this.throttle.hit(em, `accept:address:${input.clientAddress}`, 30, 15 * 60);
    const name = checkName(input.name);
    checkPassword(input.password);
    // Cross-tenant by necessity: the token is what tells us the tenant.
    const invitation = await em.findOne(Invitation, { tokenHash: hashToken(input.token) }, { ...CROSS_TENANT, populate: ['user'] });
    if (!invitation) throw new DomainError(ErrorCode.INVITATION_INVALID, 'This invitation link is not valid (it may have been replaced by a newer one)');
    const status = invitation.statusAt(this.clock.now());
    if (status === InvitationStatus.ACCEPTED) throw new DomainError(ErrorCode.INVITATION_USED, 'This invitation was already used');
    if (status === InvitationStatus.REVOKED) throw new DomainError(ErrorCode.INVITATION_REVOKED, 'This invitation was revoked');
    if (status === InvitationStatus.EXPIRED) throw new DomainError(ErrorCode.INVITATION_EXPIRED, 'This invitation has expired; ask for a new one');
    const passwordHash = await hashPassword(input.password);
    const organizationId = invitation.organization.id;
    em.setFilterParams(TENANT_FILTER, { organizationId });
    return this.acceptInTransaction(em, invitation.id, organizationId, name, passwordHash).catch((err: unknown) => {
      // The login name is unique across the service among accounts with a password.
      if (err instanceof UniqueConstraintViolationException) {
        throw new DomainError(ErrorCode.CONFLICT, 'This email already has an account: log in with it, or ask to be invited with another address', { field: 'email' });
      }
      throw err;
    });
  }

  private acceptInTransaction(em: EntityManager, invitationId: string, organizationId: string, name: string, passwordHash: string): Promise<{ token: string; user: User }> {
    return em.transactional(async (tx) => {
      const inv = await tx.findOneOrFail(Invitation, { id: invitationId }, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['user'] });
      if (inv.acceptedAt) throw new DomainError(ErrorCode.INVITATION_USED, 'This invitation was already used');
      const user = inv.user.getEntity();
      user.name = name;
      user.passwordHash = passwordHash;
      user.status = UserStatus.ACTIVE;
      user.passwordChangedAt = this.clock.now();
      inv.acceptedAt = this.clock.now();
      const existing = await tx.findOne(Membership, { user, workspace: inv.workspace ?? null });
      if (existing) {
        existing.roles = dedupe([...existing.roles, ...inv.roles]);
        existing.addOns = dedupe([...existing.addOns, ...inv.addOns]);
      } else {
        tx.create(Membership, { organization: inv.organization, user, workspace: inv.workspace ?? null, roles: inv.roles, addOns: inv.addOns });
      }
      const token = this.authentication.openSession(tx, user);
      audit(tx, { organizationId, userId: user.id }, {
        action: 'invitation.accept',
        targetType: 'Invitation',
        targetId: inv.id,
        workspaceId: inv.workspaceId,
        after: { userId: user.id, roles: inv.roles, addOns: inv.addOns },
      });
      return { token, user };
    });
  }

  /**
   * Sets a user's roles and add-ons at one level (creating the membership, or removing it when both are
   * empty). The actor must be allowed to change the grant as it is and to give the grant as it will be.
   */
  async updateMembership(em: EntityManager, principal: Principal, input: MembershipInput): Promise<Membership | null> {
    const base = { roles: dedupe(input.roles), addOns: dedupe(input.addOns) };
    assertGrantShape(input.workspaceId, base);
    const result = await em.transactional(async (tx) => {
      const user = await tx.findOne(User, { id: input.userId });
      if (!user) throw notFound('User');
      if (!(await this.managesSomewhere(tx, principal, user.id))) throw notFound('User');
      const workspace = await this.workspace(tx, input.workspaceId);
      const existing = await tx.findOne(Membership, { user, workspace });
      if (existing) {
        assertMayChange(principal.access, input.workspaceId, { ...existing, customPermissions: await customPermissionsOf(tx, existing.customRoleIds) });
      }
      const customRoleIds = dedupe(input.customRoleIds ?? existing?.customRoleIds ?? []);
      const spec = { ...base, customRoleIds, customPermissions: await customPermissionsOf(tx, customRoleIds) };
      const removing = spec.roles.length === 0 && spec.addOns.length === 0 && customRoleIds.length === 0;
      if (!removing) assertMayGrant(principal.access, Permission.USERS_MANAGE, input.workspaceId, spec);
      else if (!existing) throw notFound('Membership');
      if (existing?.roles.includes(Role.OWNER) && !spec.roles.includes(Role.OWNER)) {
        assertKeepsAnOwner(await this.otherActiveOwners(tx, principal.organizationId, user.id));
      }
      const before = specOf(existing);
      let membership: Membership | null;
      if (removing) {
        tx.remove(existing!);
        membership = null;
      } else if (existing) {
        existing.roles = spec.roles;
        existing.addOns = spec.addOns;
        existing.customRoleIds = customRoleIds;
        membership = existing;
      } else {
        membership = tx.create(Membership, {
          organization: tx.getReference(Organization, principal.organizationId),
          user,
          workspace,
          roles: spec.roles,
          addOns: spec.addOns,
          customRoleIds,
        });
      }
      audit(tx, actorOf(principal), {
        action: removing ? 'membership.remove' : existing ? 'membership.update' : 'membership.create',
        targetType: 'User',
        targetId: user.id,
        workspaceId: input.workspaceId,
        before: before ? { ...before, workspaceId: input.workspaceId } : null,
        after: removing ? null : { roles: spec.roles, addOns: spec.addOns, customRoleIds, workspaceId: input.workspaceId },
      });
      await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.MEMBERSHIP, userId: user.id });
      return membership;
    });
    return result;
  }

  /** Whether the actor manages this user somewhere already (policy.ts: managesUserSomewhere). */
  private async managesSomewhere(em: EntityManager, principal: Principal, userId: string): Promise<boolean> {
    const access = principal.access;
    // Organization-wide managers need not look the user up.
    if (managesUserSomewhere(access, [])) return true;
    const rows = await em.getConnection().execute<Array<{ workspace_id: string | null }>>(
      `select m.workspace_id from memberships m where m.organization_id = ? and m.user_id = ?
       union all
       select i.workspace_id from invitations i where i.organization_id = ? and i.user_id = ? and i.accepted_at is null and i.revoked_at is null`,
      [principal.organizationId, userId, principal.organizationId, userId],
      'all',
      em.getTransactionContext(),
    );
    return managesUserSomewhere(access, rows.map((r) => r.workspace_id));
  }

  private async withDescendants(em: EntityManager, workspaceIds: string[]): Promise<string[]> {
    if (!workspaceIds.length) return [];
    const below = await em.find(Workspace, { $or: [{ id: { $in: workspaceIds } }, ...workspaceIds.map((id) => ({ ancestorIds: { $contains: [id] } }))] }, { fields: ['id'] });
    return [...new Set(below.map((w) => w.id))];
  }

  /** The levels (workspaces, or null for organization-wide) where a user holds memberships. */
  async levelsOf(em: EntityManager, userId: string): Promise<Array<{ level: Level; spec: GrantSpec }>> {
    const memberships = await em.find(Membership, { user: userId });
    const out: Array<{ level: Level; spec: GrantSpec }> = [];
    for (const m of memberships) {
      out.push({ level: m.workspaceId, spec: { roles: m.roles, addOns: m.addOns, customPermissions: await customPermissionsOf(em, m.customRoleIds) } });
    }
    return out;
  }

  /** Ends a user's access, keeping their history: sessions, API keys they created, live subscriptions. */
  async deactivateUser(em: EntityManager, principal: Principal, userId: string): Promise<User> {
    const user = await em.transactional(async (tx) => {
      const target = await tx.findOne(User, { id: userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!target) throw notFound('User');
      const levels = await this.levelsOf(tx, userId);
      assertMayManageUser(principal.access, levels);
      if (target.status === UserStatus.DEACTIVATED) return target;
      if (levels.some(({ spec }) => spec.roles.includes(Role.OWNER))) {
        assertKeepsAnOwner(await this.otherActiveOwners(tx, principal.organizationId, userId));
      }
      const before = target.status;
      target.status = UserStatus.DEACTIVATED;
      target.deactivatedAt = this.clock.now();
      target.availability = Availability.OFFLINE;
      await this.authentication.revokeSessionsOf(tx, userId);
      await tx.nativeUpdate(ApiKey, { createdBy: userId, revokedAt: null }, { revokedAt: this.clock.now() });
      await tx.nativeUpdate(Invitation, { user: userId, acceptedAt: null, revokedAt: null }, { revokedAt: this.clock.now() });
      audit(tx, actorOf(principal), { action: 'user.deactivate', targetType: 'User', targetId: userId, before: { status: before }, after: { status: UserStatus.DEACTIVATED } });
      await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.USER_DEACTIVATED, userId });
      return target;
    });
    return user;
  }

  async reactivateUser(em: EntityManager, principal: Principal, userId: string): Promise<User> {
    return em.transactional(async (tx) => {
      const target = await tx.findOne(User, { id: userId });
      if (!target) throw notFound('User');
      assertMayManageUser(principal.access, await this.levelsOf(tx, userId));
      if (target.status === UserStatus.ACTIVE) return target;
      if (!target.passwordHash) throw badInput('This user never accepted an invitation: invite them again', { field: 'userId' });
      target.status = UserStatus.ACTIVE;
      target.deactivatedAt = null;
      audit(tx, actorOf(principal), { action: 'user.reactivate', targetType: 'User', targetId: userId, before: { status: UserStatus.DEACTIVATED }, after: { status: UserStatus.ACTIVE } });
      await recordAccessChange(tx, principal.organizationId, { kind: AccessChangeKind.USER_REACTIVATED, userId });
      return target;
    });
  }

  async setAvailability(em: EntityManager, principal: Principal, availability: Availability, userId?: string | null): Promise<User> {
    if (!userId) assertUserPrincipal(principal);
    const targetId = userId ?? principal.userId;
    return em.transactional(async (tx) => {
      const target = await tx.findOne(User, { id: targetId });
      if (!target) throw notFound('User');
      const levels = (await this.levelsOf(tx, targetId)).map((l) => l.level);
      assertMaySetAvailabilityOf(principal.access, personOf(principal), targetId, levels);
      if (target.status !== UserStatus.ACTIVE) throw badInput('Only active users have an availability', { field: 'userId' });
      if (target.availability === availability) return target;
      const before = target.availability;
      target.availability = availability;
      audit(tx, actorOf(principal), { action: 'user.availability', targetType: 'User', targetId, before: { availability: before }, after: { availability } });
      // Dashboards and badges of every workspace the user works in hear of it.
      const workspaceIds = levels.includes(null)
        ? (await tx.find(Workspace, {}, { fields: ['id'] })).map((w) => w.id)
        : await this.withDescendants(tx, levels as string[]);
      for (const workspaceId of workspaceIds) {
        await appendEvent(tx, { organizationId: principal.organizationId, workspaceId, type: EventType.AVAILABILITY_CHANGED, payload: { availability: { userId: targetId, availability } } });
      }
      return target;
    });
  }

  /**
   * Users the caller may see in the team list: everyone for an organization-wide USERS_READ, otherwise the
   * people with a membership or pending invitation in workspaces where the caller holds it (and owners).
   */
  async listUsers(
    em: EntityManager,
    principal: Principal,
    args: { status?: UserStatus | null; workspaceId?: string | null; first?: number | null; after?: string | null },
  ): Promise<Connection<User>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2) as [string, string] | null;
    const access = principal.access;
    let workspaces: string[] | null;
    if (args.workspaceId) {
      // Another organization's workspace (or none) is NOT_FOUND, as everywhere else.
      if (!access.knowsWorkspace(args.workspaceId)) throw notFound('Workspace');
      assertMayReadUsersIn(access, args.workspaceId);
      workspaces = [args.workspaceId];
    } else {
      workspaces = workspacesWhereUsersAreRead(access);
    }
    const params: unknown[] = [principal.organizationId];
    let where = 'u.organization_id = ?';
    if (args.status) {
      where += ' and u.status = ?';
      params.push(args.status);
    }
    if (workspaces) {
      where += ` and (exists (select 1 from memberships m where m.organization_id = u.organization_id and m.user_id = u.id
                               and (m.workspace_id is null or m.workspace_id = any(?::uuid[])))
                  or exists (select 1 from invitations i where i.organization_id = u.organization_id and i.user_id = u.id
                               and i.workspace_id = any(?::uuid[])))`;
      params.push(uuidArray(workspaces), uuidArray(workspaces));
    }
    if (after) {
      where += ' and (u.created_at, u.id) > (?::timestamptz, ?::uuid)';
      params.push(after[0], after[1]);
    }
    params.push(size + 1);
    const rows = await em.getConnection().execute<Array<{ id: string }>>(
      `select u.id from users u where ${where} order by u.created_at, u.id limit ?`,
      params,
    );
    const users = rows.length ? await em.find(User, { id: { $in: rows.map((r) => r.id) } }, { orderBy: { createdAt: 'asc', id: 'asc' } }) : [];
    return toConnection(users, size, (u) => [u.createdAt.toISOString(), u.id]);
  }
}
