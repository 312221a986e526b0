import { Entity, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from './permissions';
import { User } from './user.entity';
import type { Workspace } from './organization.entity';

/** A team (agent group) in a workspace; threads can be assigned to it. */
@ObjectType({ description: 'A team of agents in a workspace.' })
@Auth(Permission.WORKSPACE_READ)
@TenantScoped()
@Entity({ tableName: 'agent_groups' })
@Unique({ properties: ['organization', 'workspace', 'name'] })
export class AgentGroup extends TenantEntity<'workspaceId'> {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ length: 100 })
  name!: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** Membership of a user in an agent group (explicit pivot: it carries organization_id like every tenant table). */
@TenantScoped()
@Entity({ tableName: 'agent_group_members' })
@Unique({ properties: ['organization', 'group', 'user'] })
@Index({ properties: ['organization', 'user'] })
export class AgentGroupMember extends TenantEntity {
  @ManyToOne(() => AgentGroup, { ref: true, deleteRule: 'cascade', index: false })
  group!: Ref<AgentGroup>;

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade', index: false })
  user!: Ref<User>;
}

/** Who did what, when, to which object; before and after. Append-only. */
@ObjectType({ description: 'One change: who did what, when, to which object.' })
@Auth(Permission.AUDIT_LOG_READ)
@TenantScoped()
@Entity({ tableName: 'audit_log' })
@Index({ properties: ['organization', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'workspace', 'createdAt'] })
@Index({ properties: ['organization', 'targetType', 'targetId'] })
export class AuditLogEntry extends TenantEntity<'workspaceId' | 'workspace' | 'actorUserId' | 'actorApiKeyId' | 'before' | 'after'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, nullable: true, deleteRule: 'cascade', index: false })
  workspace: Ref<Workspace> | null = null;

  @Field(() => ID, { nullable: true, description: 'The user who acted (for an API key, its creator).' })
  @Property({ type: 'uuid', nullable: true })
  actorUserId: string | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  actorApiKeyId: string | null = null;

  @Field()
  @Property({ length: 100 })
  action!: string;

  @Field()
  @Property({ length: 50 })
  targetType!: string;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  targetId!: string;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Property({ type: 'jsonb', nullable: true })
  before: Record<string, unknown> | null = null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Property({ type: 'jsonb', nullable: true })
  after: Record<string, unknown> | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID, { nullable: true })
  get workspaceId(): string | null {
    return this.workspace?.id ?? null;
  }
}
