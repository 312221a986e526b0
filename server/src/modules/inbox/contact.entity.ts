import { Entity, Enum, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';
import type { Workspace } from '../identity';

/**
 * A customer the team texts with, in one workspace. Phone numbers are stored in E.164, emails lower-cased.
 * One (unmerged) contact per phone number in a workspace: inbound messages find their contact by it.
 */
@ObjectType({ description: 'A customer: name, phone, email and custom fields.', simpleResolvers: true })
@Auth(Permission.CONTACTS_READ)
@TenantScoped()
@Entity({ tableName: 'contacts' })
@Index({ properties: ['organization', 'workspace', 'phone'] })
@Unique({
  name: 'contacts_workspace_phone_unique',
  expression:
    'create unique index "contacts_workspace_phone_unique" on "contacts" ("organization_id", "workspace_id", "phone") where "merged_into_id" is null',
})
@Index({ properties: ['organization', 'workspace', 'email'] })
@Index({ properties: ['organization', 'workspace', 'createdAt', 'id'] })
@Index({
  name: 'contacts_search_index',
  expression:
    'create index "contacts_search_index" on "contacts" using gin ("organization_id", "workspace_id", (lower(coalesce("first_name", \'\') || \' \' || coalesce("last_name", \'\') || \' \' || coalesce("phone", \'\') || \' \' || coalesce("email", \'\'))) gin_trgm_ops)',
})
export class Contact extends TenantEntity<'workspaceId' | 'firstName' | 'lastName' | 'phone' | 'email' | 'customFields' | 'updatedAt' | 'mergedIntoId' | 'displayName'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field(() => String, { nullable: true })
  @Property({ length: 100, nullable: true })
  firstName: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ length: 100, nullable: true })
  lastName: string | null = null;

  @Field(() => String, { nullable: true, description: 'E.164, e.g. +15551234567.' })
  @Property({ length: 20, nullable: true })
  phone: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ length: 320, nullable: true })
  email: string | null = null;

  @Field(() => GraphQLJSONObject, { description: 'Custom fields: a flat object of strings, numbers and booleans.' })
  @Property({ type: 'jsonb', default: '{}' })
  customFields: Record<string, string | number | boolean | null> = {};

  /** Set when this contact was merged into another (kept for history; hidden from lists). */
  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  mergedIntoId: string | null = null;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }

  @Field({ description: 'First and last name, or the phone or email when there is no name.' })
  get displayName(): string {
    const name = [this.firstName, this.lastName].filter(Boolean).join(' ');
    return name || this.phone || this.email || 'Unknown';
  }
}

export enum OptOutSource {
  MANUAL = 'MANUAL',
  KEYWORD = 'KEYWORD',
  IMPORT = 'IMPORT',
}
registerEnumType(OptOutSource, { name: 'OptOutSource', description: 'How the opt-out was recorded.' });

/**
 * A refusal to receive messages at an address (phone or email): on one workspace, or organization-wide
 * (workspace null, owners only); permanent or until a date; reversible, never deleted.
 */
@ObjectType({ description: 'An opt-out: who, when, why, until when; reversible.' })
@Auth(Permission.OPT_OUTS_READ)
@TenantScoped()
@Entity({ tableName: 'opt_outs' })
@Index({ properties: ['organization', 'address', 'workspace'] })
@Index({ properties: ['organization', 'workspace', 'createdAt', 'id'] })
export class OptOut extends TenantEntity<'workspaceId' | 'workspace' | 'until' | 'reason' | 'createdById' | 'reversedAt' | 'reversedById' | 'source'> {
  @Field(() => ID)
  declare id: string;

  /** Null: organization-wide. */
  @ManyToOne('Workspace', { ref: true, nullable: true, deleteRule: 'cascade', index: false })
  workspace: Ref<Workspace> | null = null;

  @Field({ description: 'The phone (E.164) or email that opted out.' })
  @Property({ length: 320 })
  address!: string;

  @Field(() => OptOutSource)
  @Enum({ items: () => OptOutSource, nativeEnumName: 'opt_out_source' })
  source: OptOutSource = OptOutSource.MANUAL;

  @Field(() => Date, { nullable: true, description: 'Null: permanent.' })
  @Property({ type: 'timestamptz', nullable: true })
  until: Date | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  reason: string | null = null;

  @Field(() => ID, { nullable: true, description: 'Who recorded it; null when the contact opted out by keyword.' })
  @Property({ type: 'uuid', nullable: true })
  createdById: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  reversedAt: Date | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  reversedById: string | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID, { nullable: true, description: 'Null for an organization-wide opt-out.' })
  get workspaceId(): string | null {
    return this.workspace?.id ?? null;
  }

  activeAt(now: Date): boolean {
    return !this.reversedAt && (!this.until || this.until.getTime() > now.getTime());
  }
}
