import { Entity, Enum, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';
import type { Workspace } from '../identity';
import { Contact } from '../inbox';

/** A named list of contacts a campaign can target (seed 000: "Campaign Groups"). */
@ObjectType({ description: 'A campaign group: a named list of contacts that campaigns target.' })
@Auth(Permission.CAMPAIGNS_READ)
@TenantScoped()
@Entity({ tableName: 'campaign_groups' })
@Unique({ properties: ['organization', 'workspace', 'name'] })
@Index({ properties: ['organization', 'workspace', 'createdAt', 'id'] })
export class CampaignGroup extends TenantEntity<'workspaceId'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field()
  @Property({ length: 100 })
  name!: string;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** One contact in one group, once. */
@TenantScoped()
@Entity({ tableName: 'campaign_group_members' })
@Unique({ properties: ['organization', 'group', 'contact'] })
@Index({ properties: ['organization', 'group', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'contact'] })
export class CampaignGroupMember extends TenantEntity<'workspaceId'> {
  @ManyToOne(() => CampaignGroup, { ref: true, deleteRule: 'cascade', index: false })
  group!: Ref<CampaignGroup>;

  @ManyToOne(() => Contact, { ref: true, deleteRule: 'cascade', index: false })
  contact!: Ref<Contact>;
}

export enum CampaignStatus {
  DRAFT = 'DRAFT',
  SCHEDULED = 'SCHEDULED',
  RUNNING = 'RUNNING',
  PAUSED = 'PAUSED',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(CampaignStatus, {
  name: 'CampaignStatus',
  description: 'DRAFT -> SCHEDULED -> RUNNING <-> PAUSED -> COMPLETED; CANCELLED from any state before COMPLETED.',
});

export enum CampaignKind {
  BROADCAST = 'BROADCAST',
  PEER_TO_PEER = 'PEER_TO_PEER',
}
registerEnumType(CampaignKind, {
  name: 'CampaignKind',
  description: 'BROADCAST: the server sends the initial message to every recipient. PEER_TO_PEER: texters request batches and send each one.',
});

export interface ResponseScript {
  name: string;
  body: string;
}

/** Which contacts a campaign reaches when it has no groups, or in addition to them. */
export interface ContactFilterSpec {
  search?: string | null;
  customField?: { name: string; value: string } | null;
}

/** A campaign: an initial message to the contacts of its groups (or a contact filter), sent or texted. */
@ObjectType({ description: 'A campaign: its message, targets, sender, schedule and status.' })
@Auth(Permission.CAMPAIGNS_READ)
@TenantScoped()
@Entity({ tableName: 'campaigns' })
@Index({ properties: ['organization', 'workspace', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'status'] })
export class Campaign extends TenantEntity<
  'workspaceId' | 'description' | 'kind' | 'responseScripts' | 'targetGroupIds' | 'contactFilter' | 'senderNumber' | 'senderName' | 'startAt' | 'quietHoursStart' | 'quietHoursEnd' | 'status' | 'maxThreadsPerRequest' | 'startedAt' | 'completedAt' | 'materializedAt' | 'updatedAt'
> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field()
  @Property({ length: 100 })
  name!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => CampaignKind)
  @Enum({ items: () => CampaignKind, nativeEnumName: 'campaign_kind' })
  kind: CampaignKind = CampaignKind.BROADCAST;

  @Field({ description: 'The initial message; variables: {{contact.firstName}}, {{contact.lastName}}, {{contact.phone}}, {{contact.email}}, {{custom.<field>}}.' })
  @Property({ type: 'text' })
  messageTemplate!: string;

  @Property({ type: 'jsonb', default: '[]' })
  responseScripts: ResponseScript[] = [];

  @Field(() => [ID])
  @Property({ type: 'uuid[]', default: '{}' })
  targetGroupIds: string[] = [];

  @Property({ type: 'jsonb', nullable: true })
  contactFilter: ContactFilterSpec | null = null;

  @Field(() => String, { nullable: true, description: 'The number the campaign sends from (E.164).' })
  @Property({ length: 20, nullable: true })
  senderNumber: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ length: 100, nullable: true })
  senderName: string | null = null;

  @Field(() => Date, { nullable: true, description: 'When a SCHEDULED campaign starts sending.' })
  @Property({ type: 'timestamptz', nullable: true })
  startAt: Date | null = null;

  @Field(() => String, { nullable: true, description: 'Quiet hours start (HH:MM, workspace time zone): nothing is sent from then...' })
  @Property({ length: 5, nullable: true })
  quietHoursStart: string | null = null;

  @Field(() => String, { nullable: true, description: '...until then (HH:MM).' })
  @Property({ length: 5, nullable: true })
  quietHoursEnd: string | null = null;

  @Field(() => CampaignStatus)
  @Enum({ items: () => CampaignStatus, nativeEnumName: 'campaign_status' })
  status: CampaignStatus = CampaignStatus.DRAFT;

  @Field(() => Int, { description: 'Peer-to-peer: the most contacts a texter gets per request.' })
  @Property({ default: 50 })
  maxThreadsPerRequest: number = 50;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  startedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  completedAt: Date | null = null;

  /** When the recipients were materialised (once, at the first start). */
  @Property({ type: 'timestamptz', nullable: true })
  materializedAt: Date | null = null;

  @Property({ type: 'uuid' })
  createdById!: string;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

export enum RecipientStatus {
  /** Waiting to be sent (broadcast) or handed to a texter (peer-to-peer). */
  PENDING = 'PENDING',
  /** Claimed by a sender: its message row exists; the provider call may or may not have happened. */
  SENDING = 'SENDING',
  /** Peer-to-peer: handed to a texter who has not sent yet. */
  ASSIGNED = 'ASSIGNED',
  SENT = 'SENT',
  FAILED = 'FAILED',
  /** Never sent: opted out (workspace or organization), or no phone. */
  SKIPPED = 'SKIPPED',
}
registerEnumType(RecipientStatus, { name: 'RecipientStatus' });

/**
 * One contact of a started campaign, materialised once at start (one row per phone number). Its state is
 * the send's ledger: the message id is fixed when the row is claimed, so a resend after a crash reuses it.
 */
@TenantScoped()
@Entity({ tableName: 'campaign_recipients' })
@Unique({ properties: ['organization', 'campaign', 'phone'] })
@Index({ properties: ['organization', 'campaign', 'status'] })
@Index({ properties: ['organization', 'campaign', 'texterId'] })
export class CampaignRecipient extends TenantEntity<'skipReason' | 'messageId' | 'threadId' | 'texterId' | 'claimedAt' | 'sentAt' | 'status'> {
  @ManyToOne(() => Campaign, { ref: true, deleteRule: 'cascade', index: false })
  campaign!: Ref<Campaign>;

  @Property({ type: 'uuid' })
  workspaceId!: string;

  @Property({ type: 'uuid' })
  contactId!: string;

  @Property({ length: 20 })
  phone!: string;

  @Enum({ items: () => RecipientStatus, nativeEnumName: 'campaign_recipient_status' })
  status: RecipientStatus = RecipientStatus.PENDING;

  @Property({ length: 40, nullable: true })
  skipReason: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  messageId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  threadId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  texterId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  claimedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  sentAt: Date | null = null;
}
