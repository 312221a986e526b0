import { Entity, Enum, Index, ManyToOne, OptionalProps, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission, Role, AddOn } from './permissions';
import { User } from './user.entity';
import type { Workspace } from './organization.entity';

/** A login. The bearer token is random and only its SHA-256 is stored; it dies on logout, password change or deactivation. */
@TenantScoped()
@Entity({ tableName: 'sessions' })
@Index({ properties: ['organization', 'user'] })
export class Session extends TenantEntity<'revokedAt'> {
  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade', index: false })
  user!: Ref<User>;

  @Unique()
  @Property({ length: 64 })
  tokenHash!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;
}

/** An integrator's credential for one workspace, with a subset of its creator's permissions. Shown once. */
@ObjectType({ description: 'An integrator credential for one workspace. The secret is shown only when created.' })
@Auth(Permission.API_KEYS_MANAGE)
@TenantScoped()
@Entity({ tableName: 'api_keys' })
@Index({ properties: ['organization', 'workspace'] })
export class ApiKey extends TenantEntity<'workspaceId' | 'createdById' | 'permissions' | 'revokedAt' | 'lastUsedAt'> {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ length: 100 })
  name!: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade', index: false })
  createdBy!: Ref<User>;

  /** The first characters of the key, to tell keys apart in lists. */
  @Field()
  @Property({ length: 16 })
  prefix!: string;

  @Unique()
  @Property({ length: 64, hidden: true })
  tokenHash!: string;

  @Field(() => [Permission])
  @Enum({ items: () => Permission, array: true, nativeEnumName: 'permission' })
  permissions: Permission[] = [];

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }

  @Field(() => ID)
  get createdById(): string {
    return this.createdBy.id;
  }
}

export enum InvitationStatus {
  PENDING = 'PENDING',
  ACCEPTED = 'ACCEPTED',
  REVOKED = 'REVOKED',
  EXPIRED = 'EXPIRED',
}
registerEnumType(InvitationStatus, { name: 'InvitationStatus' });

/** An invitation: single use, bound to the invited email, valid 7 days; resending replaces the token. */
@ObjectType({ description: 'An invitation to join, on a workspace or organization-wide.' })
@Auth(Permission.USERS_INVITE)
@TenantScoped()
@Entity({ tableName: 'invitations' })
@Index({ properties: ['organization', 'email'] })
@Index({ properties: ['organization', 'workspace'] })
export class Invitation extends TenantEntity<'workspaceId' | 'userId' | 'workspace' | 'roles' | 'addOns' | 'acceptedAt' | 'revokedAt'> {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ length: 320 })
  email!: string;

  /** The invited user's row (status INVITED until accepted). */
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

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade', index: false })
  invitedBy!: Ref<User>;

  @Unique()
  @Property({ length: 64, hidden: true })
  tokenHash!: string;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  acceptedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID, { nullable: true })
  get workspaceId(): string | null {
    return this.workspace?.id ?? null;
  }

  @Field(() => ID)
  get userId(): string {
    return this.user.id;
  }

  statusAt(now: Date): InvitationStatus {
    if (this.acceptedAt) return InvitationStatus.ACCEPTED;
    if (this.revokedAt) return InvitationStatus.REVOKED;
    if (this.expiresAt.getTime() <= now.getTime()) return InvitationStatus.EXPIRED;
    return InvitationStatus.PENDING;
  }
}

/** Mail the server would send (kept when no SMTP server is configured: the outbox is the record). */
@Entity({ tableName: 'mail_outbox' })
@Index({ properties: ['createdAt'] })
export class OutboxMail {
  [OptionalProps]?: 'id' | 'createdAt' | 'sentAt' | 'organizationId';

  @Property({ type: 'uuid', primary: true })
  id: string = crypto.randomUUID();

  @Property({ type: 'uuid', nullable: true })
  organizationId: string | null = null;

  @Property({ length: 320 })
  to!: string;

  @Property({ type: 'text' })
  subject!: string;

  @Property({ type: 'text' })
  body!: string;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  sentAt: Date | null = null;
}
