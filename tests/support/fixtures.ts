import type { EntityManager } from '@mikro-orm/postgresql';
import type { Switchboard } from '../../server/src/app';
import { TENANT_FILTER } from '../../server/src/db/tenant';
import { Organization, Workspace } from '../../server/src/modules/identity/organization.entity';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import { hashPassword } from '../../server/src/modules/identity/secrets';
import { Membership, User, UserStatus } from '../../server/src/modules/identity/user.entity';

export const FIXTURE_PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | undefined;

export interface FixtureUser {
  id: string;
  email: string;
  token: string;
}

/**
 * Builds rows directly through the ORM (fast, and independent of the API under test): an organization, a
 * workspace tree, users with memberships, and session tokens for them.
 */
export class OrgBuilder {
  readonly organization: Organization;
  private em: EntityManager;
  private seq = 0;

  constructor(private readonly app: Switchboard, name: string) {
    this.em = app.orm.em.fork({ clear: true, useContext: false });
    this.organization = this.em.create(Organization, { name });
    this.em.setFilterParams(TENANT_FILTER, { organizationId: this.organization.id });
  }

  /**
   * Starts a fresh unit of work holding only the organization and `keep`: a long-running fixture otherwise
   * flushes an ever-growing identity map (quadratic over thousands of rows).
   */
  recycle(...keep: object[]): void {
    this.em = this.app.orm.em.fork({ clear: true, useContext: false });
    this.em.setFilterParams(TENANT_FILTER, { organizationId: this.organization.id });
    this.em.merge(this.organization);
    for (const entity of keep) this.em.merge(entity);
  }

  get id(): string {
    return this.organization.id;
  }

  workspace(name: string, parent?: Workspace): Workspace {
    return this.em.create(Workspace, {
      organization: this.organization,
      name,
      parent: parent ?? null,
      ancestorIds: parent ? [...parent.ancestorIds, parent.id] : [],
    });
  }

  /** A user holding the given roles on a workspace (or organization-wide with null). */
  async user(
    label: string,
    grants: Array<{ workspace: Workspace | null; roles: Role[]; addOns?: AddOn[] }>,
    status: UserStatus = UserStatus.ACTIVE,
  ): Promise<User> {
    passwordHash ??= hashPassword(FIXTURE_PASSWORD);
    const user = this.em.create(User, {
      organization: this.organization,
      name: label,
      email: `${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${++this.seq}-${this.organization.id.slice(0, 8)}@example.test`,
      passwordHash: await passwordHash,
      status,
    });
    for (const g of grants) {
      this.em.create(Membership, { organization: this.organization, user, workspace: g.workspace, roles: g.roles, addOns: g.addOns ?? [] });
    }
    return user;
  }

  async flush(): Promise<void> {
    await this.em.flush();
  }

  /** A session token for a user (flushes pending rows first). */
  async login(user: User): Promise<FixtureUser> {
    await this.em.flush();
    const token = this.app.services.authentication.openSession(this.em, user);
    await this.em.flush();
    return { id: user.id, email: user.email, token };
  }
}
