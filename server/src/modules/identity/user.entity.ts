import { Entity, Enum, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { AddOn, Permission, Role } from './permissions';
import type { Workspace } from './organization.entity';

export enum UserStatus {
  INVITED = 'INVITED',
  ACTIVE = 'ACTIVE',
  DEACTIVATED = 'DEACTIVATED',
}
registerEnumType(UserStatus, { name: 'UserStatus', description: 'Invited (not yet accepted), active, or deactivated (history kept).' });

export enum Availability {
  ONLINE = 'ONLINE',
  AWAY = 'AWAY',
  OFFLINE = 'OFFLINE',
}
registerEnumType(Availability, { name: 'Availability' });

/**
 * A person in one organization. Email is unique in the organization, and among accounts that can log in
 * across the service (it is the login name); an invitation is per organization, so a pending invitee has
 * no password yet and may be invited elsewhere too. Removal deactivates: the row and its history stay.
 */
@ObjectType({ description: 'A member of the organization.' })
@Auth(Permission.ORGANIZATION_READ, { scope: 'anywhere' })
@TenantScoped()
@Entity({ tableName: 'users' })
@Index({ properties: ['organization', 'status'] })
@Unique({ properties: ['organization', 'email'] })
@Unique({
  name: 'users_login_email_unique',
  expression: 'create unique index "users_login_email_unique" on "users" ("email") where "password_hash" is not null',
})
export class User extends TenantEntity<'passwordHash' | 'status' | 'availability' | 'deactivatedAt' | 'passwordChangedAt'> {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ length: 200 })
  name!: string;

  /** Stored lower-cased. Colleagues see names; emails are for those who manage users. */
  @Field({ nullable: true })
  @Auth(Permission.USERS_READ, { scope: 'anywhere' })
  @Property({ length: 320 })
  email!: string;

  /** scrypt: "scrypt$N$r$p$salt$hash" (base64url parts); null until the invitation is accepted. */
  @Property({ type: 'text', nullable: true, hidden: true })
  passwordHash: string | null = null;

  @Field(() => UserStatus)
  @Enum({ items: () => UserStatus, nativeEnumName: 'user_status' })
  status: UserStatus = UserStatus.INVITED;

  @Field(() => Availability)
  @Enum({ items: () => Availability, nativeEnumName: 'availability' })
  availability: Availability = Availability.OFFLINE;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  deactivatedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  passwordChangedAt: Date | null = null;

  @Field(() => Date)
  declare createdAt: Date;
}

/**
 * A user's place in the organization: organization-wide (workspace null) or on one workspace (reaching
 * every workspace below it). Several roles, optional add-ons and custom roles; permissions are the union.
 */
@ObjectType({ description: 'Roles and add-ons a user holds on a workspace, or organization-wide.' })
@Auth(Permission.USERS_READ)
@TenantScoped()
@Entity({ tableName: 'memberships' })
@Unique({ properties: ['organization', 'user', 'workspace'] })
@Index({ properties: ['organization', 'workspace'] })
export class Membership extends TenantEntity<'userId' | 'workspaceId' | 'workspace' | 'roles' | 'addOns' | 'customRoleIds' | 'updatedAt'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade', index: false })
  user!: Ref<User>;

  @ManyToOne('Workspace', { ref: true, nullable: true, deleteRule: 'cascade', index: false })
  workspace: Ref<Workspace> | null = null;

  @Field(() => [Role])
  @Enum({ items: () => Role, array: true, nativeEnumName: 'role' })
  roles: Role[] = [];

  @Field(() => [AddOn])
  @Enum({ items: () => AddOn, array: true, nativeEnumName: 'add_on' })
  addOns: AddOn[] = [];

  @Field(() => [ID], { description: "The organization's custom roles held here." })
  @Property({ type: 'string[]', columnType: 'uuid[]', default: '{}' })
  customRoleIds: string[] = [];

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => ID)
  get userId(): string {
    return this.user.id;
  }

  /** Null for an organization-wide membership: checks on it are organization-level. */
  @Field(() => ID, { nullable: true })
  get workspaceId(): string | null {
    return this.workspace?.id ?? null;
  }
}

/** An organization's own named permission set, assignable like a role. */
@ObjectType({ description: "An organization's own named permission set." })
@Auth(Permission.ORGANIZATION_READ, { scope: 'anywhere' })
@TenantScoped()
@Entity({ tableName: 'custom_roles' })
@Unique({ properties: ['organization', 'name'] })
export class CustomRole extends TenantEntity<'permissions'> {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ length: 100 })
  name!: string;

  @Field(() => [Permission])
  @Enum({ items: () => Permission, array: true, nativeEnumName: 'permission' })
  permissions: Permission[] = [];
}
