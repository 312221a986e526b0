import { Entity, Index, Property, Unique } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';

/**
 * A sending number of a workspace (seeds 001/004: "register for phone numbers ... edit Phone Number display
 * names"). A campaign sends from one of its workspace's numbers; a number belongs to one workspace of the
 * organization at a time.
 */
@ObjectType({ description: 'A phone number registered to a workspace: campaigns send from it, under its display name.' })
@Auth(Permission.WORKSPACE_READ)
@TenantScoped()
@Entity({ tableName: 'phone_numbers' })
@Unique({ properties: ['organization', 'number'] })
@Index({ properties: ['organization', 'workspaceId', 'number'] })
export class PhoneNumber extends TenantEntity<'updatedAt'> {
  @Field(() => ID)
  declare id: string;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  workspaceId!: string;

  @Field({ description: 'E.164, e.g. +15551234567.' })
  @Property({ length: 20 })
  number!: string;

  @Field({ description: 'The name recipients see for this number (shown to texters and in campaign settings).' })
  @Property({ length: 100 })
  displayName!: string;

  @Property({ type: 'uuid', nullable: true })
  registeredById: string | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
