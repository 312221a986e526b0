import { Entity, Enum, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';
import type { Workspace } from '../identity';
import type { User } from '../identity';
import type { AgentGroup } from '../identity';
import { Contact } from './contact.entity';

export enum ThreadStatus {
  OPEN = 'OPEN',
  SNOOZED = 'SNOOZED',
  CLOSED = 'CLOSED',
}
registerEnumType(ThreadStatus, { name: 'ThreadStatus' });

export enum MessageDirection {
  INBOUND = 'INBOUND',
  OUTBOUND = 'OUTBOUND',
}
registerEnumType(MessageDirection, { name: 'MessageDirection' });

export enum DeliveryStatus {
  RECEIVED = 'RECEIVED',
  QUEUED = 'QUEUED',
  SENT = 'SENT',
  DELIVERED = 'DELIVERED',
  FAILED = 'FAILED',
}
registerEnumType(DeliveryStatus, {
  name: 'DeliveryStatus',
  description:
    'Outbound: QUEUED -> SENT -> DELIVERED or FAILED, never backwards; live events report each step of a receipt once and in order (a DELIVERED or FAILED receipt that overtakes SENT reports SENT first). Inbound: RECEIVED.',
});

// simpleResolvers (here, on Message, Contact, Tag and connections): plain fields read the property with graphql-js's
// default resolver, not a type-graphql wrapper per field (a page reads hundreds); @FieldResolver fields and @auth
// checks are unchanged.
/** A conversation with one contact in one workspace. Lists order by last activity. */
@ObjectType({ description: 'A conversation with a contact.', simpleResolvers: true })
@Auth(Permission.THREADS_READ)
@TenantScoped()
@Entity({ tableName: 'threads' })
@Index({ properties: ['organization', 'workspace', 'lastActivityAt', 'id'] })
@Index({ properties: ['organization', 'workspace', 'status', 'lastActivityAt', 'id'] })
@Index({ properties: ['organization', 'workspace', 'assigneeUser', 'lastActivityAt', 'id'] })
@Index({ properties: ['organization', 'workspace', 'assigneeGroup', 'lastActivityAt', 'id'] })
@Index({ properties: ['organization', 'contact'] })
@Index({ properties: ['organization', 'workspace', 'campaignId', 'lastActivityAt', 'id'] })
@Index({ properties: ['organization', 'workspace', 'needsResponse', 'lastActivityAt', 'id'] })
@Index({
  name: 'threads_waiting_queue_index',
  expression:
    'create index "threads_waiting_queue_index" on "threads" ("organization_id", "workspace_id", "assignee_group_id", "last_inbound_at", "id") where "assignee_user_id" is null and "status" = \'OPEN\'',
})
export class Thread extends TenantEntity<
  'workspaceId' | 'contactId' | 'status' | 'snoozedUntil' | 'archived' | 'assigneeUser' | 'assigneeGroup' | 'needsResponse' | 'lastActivityAt' | 'lastInboundAt' | 'firstResponseAt' | 'campaignId' | 'assigneeUserId' | 'assigneeGroupId' | 'lastMessagePreview' | 'channel'
> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => Contact, { ref: true, deleteRule: 'cascade', index: false })
  contact!: Ref<Contact>;

  @Field(() => ThreadStatus)
  @Enum({ items: () => ThreadStatus, nativeEnumName: 'thread_status' })
  status: ThreadStatus = ThreadStatus.OPEN;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  snoozedUntil: Date | null = null;

  @Field()
  @Property({ default: false })
  archived: boolean = false;

  @ManyToOne('User', { ref: true, nullable: true, deleteRule: 'set null', index: false })
  assigneeUser: Ref<User> | null = null;

  @ManyToOne('AgentGroup', { ref: true, nullable: true, deleteRule: 'set null', index: false })
  assigneeGroup: Ref<AgentGroup> | null = null;

  @Field({ description: 'An inbound message waits for a reply (cleared by a reply or by marking it).' })
  @Property({ default: false })
  needsResponse: boolean = false;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  lastActivityAt: Date = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  lastInboundAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  firstResponseAt: Date | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  campaignId: string | null = null;

  @Property({ length: 160, nullable: true })
  lastMessagePreview: string | null = null;

  @Field({ description: 'The channel the conversation runs over ("sms", "whatsapp"...): a contact has a thread per channel.' })
  @Property({ length: 32, default: 'sms' })
  channel: string = 'sms';

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }

  @Field(() => ID)
  get contactId(): string {
    return this.contact.id;
  }

  @Field(() => ID, { nullable: true })
  get assigneeUserId(): string | null {
    return this.assigneeUser?.id ?? null;
  }

  @Field(() => ID, { nullable: true })
  get assigneeGroupId(): string | null {
    return this.assigneeGroup?.id ?? null;
  }
}

/** One message in a thread. `body_tsv` (generated, GIN-indexed) serves full-text search. */
@ObjectType({ description: 'A message, inbound or outbound, with its delivery status.', simpleResolvers: true })
@Auth(Permission.THREADS_READ)
@TenantScoped()
@Entity({ tableName: 'messages' })
@Index({ properties: ['organization', 'thread', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'providerMessageId'] })
@Unique({ name: 'messages_author_idempotency_key_unique', properties: ['organization', 'workspace', 'authorId', 'idempotencyKey'] })
@Unique({ properties: ['organization', 'workspace', 'externalId'] })
@Index({
  name: 'messages_body_tsv_index',
  expression: 'create index "messages_body_tsv_index" on "messages" using gin ("organization_id", "body_tsv")',
})
export class Message extends TenantEntity<'workspaceId' | 'threadId' | 'authorId' | 'status' | 'idempotencyKey' | 'providerMessageId' | 'externalId' | 'statusUpdatedAt' | 'error' | 'automated'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => Thread, { ref: true, deleteRule: 'cascade', index: false })
  thread!: Ref<Thread>;

  @Field(() => MessageDirection)
  @Enum({ items: () => MessageDirection, nativeEnumName: 'message_direction' })
  direction!: MessageDirection;

  @Field(() => String, { nullable: true, description: 'Hidden from those without MESSAGES_READ_BODY (viewers).' })
  @Auth(Permission.MESSAGES_READ_BODY)
  @Property({ type: 'text' })
  body!: string;

  @Field(() => DeliveryStatus)
  @Enum({ items: () => DeliveryStatus, nativeEnumName: 'delivery_status' })
  status: DeliveryStatus = DeliveryStatus.QUEUED;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  statusUpdatedAt: Date | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  error: string | null = null;

  /** The user who sent it (outbound by a person); null for inbound and automatic replies. */
  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  authorId: string | null = null;

  @Field({ description: 'Sent by the system (auto-response, greeting, opt-out confirmation).' })
  @Property({ default: false })
  automated: boolean = false;

  @Property({ length: 200, nullable: true })
  idempotencyKey: string | null = null;

  @Property({ length: 200, nullable: true })
  providerMessageId: string | null = null;

  /** The channel's id for an inbound delivery: a replayed webhook is stored once. */
  @Property({ length: 200, nullable: true })
  externalId: string | null = null;

  /** Full-text vector of the body, computed by Postgres; never loaded into the entity. */
  @Property({
    columnType: 'tsvector',
    generated: "(to_tsvector('simple'::regconfig, body)) stored",
    lazy: true,
    hidden: true,
    nullable: true,
  })
  bodyTsv?: string;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }

  @Field(() => ID)
  get threadId(): string {
    return this.thread.id;
  }
}

/** An internal note on a thread: never sent, visible to those with NOTES_READ. */
@ObjectType({ description: 'An internal note on a thread; never sent to the contact.' })
@Auth(Permission.NOTES_READ)
@TenantScoped()
@Entity({ tableName: 'notes' })
@Index({ properties: ['organization', 'thread', 'createdAt'] })
export class Note extends TenantEntity<'workspaceId' | 'threadId'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => Thread, { ref: true, deleteRule: 'cascade', index: false })
  thread!: Ref<Thread>;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  authorId!: string;

  @Field()
  @Property({ type: 'text' })
  body!: string;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }

  @Field(() => ID)
  get threadId(): string {
    return this.thread.id;
  }
}

/** How far a user has read a thread (unread counts are inbound messages after it). */
@TenantScoped()
@Entity({ tableName: 'read_cursors' })
@Unique({ properties: ['organization', 'user', 'thread'] })
export class ReadCursor extends TenantEntity {
  @ManyToOne('User', { ref: true, deleteRule: 'cascade', index: false })
  user!: Ref<User>;

  @ManyToOne(() => Thread, { ref: true, deleteRule: 'cascade', index: false })
  thread!: Ref<Thread>;

  @Property({ type: 'timestamptz' })
  readAt!: Date;
}

/** One assignment change: who moved the thread from whom to whom, and why. */
@ObjectType({ description: 'An assignment change on a thread.' })
@Auth(Permission.THREADS_READ)
@TenantScoped()
@Entity({ tableName: 'assignment_events' })
@Index({ properties: ['organization', 'thread', 'createdAt'] })
export class AssignmentEvent extends TenantEntity<'workspaceId' | 'threadId' | 'fromUserId' | 'fromGroupId' | 'toUserId' | 'toGroupId' | 'reason' | 'actorId'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => Thread, { ref: true, deleteRule: 'cascade', index: false })
  thread!: Ref<Thread>;

  @Field({ description: 'assign, unassign, transfer, take, claim' })
  @Property({ length: 20 })
  kind!: string;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  actorId: string | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  fromUserId: string | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  fromGroupId: string | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  toUserId: string | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  toGroupId: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  reason: string | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }

  @Field(() => ID)
  get threadId(): string {
    return this.thread.id;
  }
}
