import { Entity, Filter, Index, ManyToOne, Property, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { BaseEntity, TenantEntity } from '../../db/base.entity';
import { TENANT_FILTER, TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from './permissions';

/** The customer account: the tenant. Nothing ever crosses organizations. */
@ObjectType({ description: 'The customer account. Owns workspaces, users, custom roles and org-wide opt-outs.' })
@Auth(Permission.ORGANIZATION_READ, { scope: 'parent' })
@Entity({ tableName: 'organizations' })
@Filter({ name: TENANT_FILTER, default: true, cond: (args: { organizationId: string }) => ({ id: args.organizationId }) })
export class Organization extends BaseEntity {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ length: 200 })
  name!: string;

  @Field(() => Date)
  declare createdAt: Date;
}

/**
 * A workspace (subaccount, account, location, group): a tree inside the organization. A membership on a
 * workspace reaches it and everything below; `ancestorIds` (root first) makes that a lookup, not a recursion.
 */
@ObjectType({ description: 'A workspace (subaccount, location, group) in the organization tree.' })
@Auth(Permission.WORKSPACE_READ)
@TenantScoped()
@Entity({ tableName: 'workspaces' })
@Index({ properties: ['organization', 'parent'] })
export class Workspace extends TenantEntity<'parentId' | 'workspaceId' | 'ancestorIds' | 'parent'> {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ length: 200 })
  name!: string;

  @ManyToOne(() => Workspace, { ref: true, nullable: true, deleteRule: 'restrict', index: false })
  parent?: Ref<Workspace> | null;

  /** Ancestors from the root down to the parent; empty for a top-level workspace. */
  @Property({ type: 'string[]', columnType: 'uuid[]', default: '{}' })
  ancestorIds: string[] = [];

  @Field(() => ID, { nullable: true, description: 'The parent workspace; null at the top of the tree.' })
  get parentId(): string | null {
    return this.parent?.id ?? null;
  }

  /** The scope of checks on this object is the workspace itself. */
  get workspaceId(): string {
    return this.id;
  }

  @Field(() => Date)
  declare createdAt: Date;
}
