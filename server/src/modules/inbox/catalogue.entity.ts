import { Entity, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';
import type { Workspace } from '../identity';
import { Message, Thread } from './thread.entity';

/** A label in the workspace's tag catalogue. */
@ObjectType({ description: "A tag from the workspace's catalogue.", simpleResolvers: true })
@Auth(Permission.WORKSPACE_READ)
@TenantScoped()
@Entity({ tableName: 'tags' })
@Unique({ properties: ['organization', 'workspace', 'name'] })
export class Tag extends TenantEntity<'workspaceId' | 'color'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field()
  @Property({ length: 50 })
  name!: string;

  @Field(() => String, { nullable: true })
  @Property({ length: 20, nullable: true })
  color: string | null = null;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** A tag applied to a thread. */
@TenantScoped()
@Entity({ tableName: 'thread_tags' })
@Unique({ properties: ['organization', 'thread', 'tag'] })
@Index({ properties: ['organization', 'tag', 'thread'] })
export class ThreadTag extends TenantEntity {
  @ManyToOne(() => Thread, { ref: true, deleteRule: 'cascade', index: false })
  thread!: Ref<Thread>;

  @ManyToOne(() => Tag, { ref: true, deleteRule: 'cascade', index: false })
  tag!: Ref<Tag>;
}

/** A canned reply with variables such as {{contact.firstName}}. */
@ObjectType({ description: 'A canned reply; variables look like {{contact.firstName}}.' })
@Auth(Permission.TEMPLATES_READ)
@TenantScoped()
@Entity({ tableName: 'templates' })
@Unique({ properties: ['organization', 'workspace', 'name'] })
export class Template extends TenantEntity<'workspaceId' | 'updatedAt'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field()
  @Property({ length: 100 })
  name!: string;

  @Field()
  @Property({ type: 'text' })
  body!: string;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

export const DEFAULT_OPT_OUT_REPLY = 'You have been unsubscribed and will receive no more messages. Reply START to resubscribe.';
export const DEFAULT_OPT_IN_REPLY = 'You are subscribed again. Reply STOP to unsubscribe.';

export interface WeeklyHours {
  /** 0 = Sunday ... 6 = Saturday; each day a list of ["HH:MM", "HH:MM"] open intervals. */
  [day: string]: Array<[string, string]>;
}

/**
 * Per-workspace inbox settings: office hours (weekly schedule in a time zone), the auto-response outside
 * them, the first-contact greeting, opt-out keyword replies, and the inbound webhook's signing secret.
 */
@ObjectType({ description: 'Office hours, auto-response, greeting and opt-out replies of a workspace.' })
@Auth(Permission.WORKSPACE_READ)
@TenantScoped()
@Entity({ tableName: 'workspace_settings' })
@Unique({ properties: ['organization', 'workspace'] })
export class WorkspaceSettings extends TenantEntity<
  'workspaceId' | 'timeZone' | 'weeklyHours' | 'autoResponse' | 'greeting' | 'optOutReply' | 'optInReply' | 'webhookSecret' | 'updatedAt'
> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field({ description: 'IANA time zone, e.g. America/Chicago.' })
  @Property({ length: 64, default: 'UTC' })
  timeZone: string = 'UTC';

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Null: always open. Keys "0" (Sunday) to "6", values [["09:00","17:00"], ...].' })
  @Property({ type: 'jsonb', nullable: true })
  weeklyHours: WeeklyHours | null = null;

  @Field(() => String, { nullable: true, description: 'Sent once per inbound burst outside office hours.' })
  @Property({ type: 'text', nullable: true })
  autoResponse: string | null = null;

  @Field(() => String, { nullable: true, description: "Sent on a contact's first inbound message." })
  @Property({ type: 'text', nullable: true })
  greeting: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  optOutReply: string | null = DEFAULT_OPT_OUT_REPLY;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  optInReply: string | null = DEFAULT_OPT_IN_REPLY;

  /** HMAC-SHA256 key for POST /webhooks/inbound (shown to admins when rotated). */
  @Property({ length: 100, nullable: true, hidden: true })
  webhookSecret: string | null = null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** Words or phrases that raise an alert when they appear in a message (case- and accent-insensitive). */
@ObjectType({ description: 'Words or phrases that raise a live alert when a message contains them.' })
@Auth(Permission.KEYWORD_ALERTS_RECEIVE)
@TenantScoped()
@Entity({ tableName: 'keyword_rules' })
@Index({ properties: ['organization', 'workspace'] })
export class KeywordRule extends TenantEntity<'workspaceId' | 'active'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field()
  @Property({ length: 100 })
  name!: string;

  @Field(() => [String])
  @Property({ type: 'text[]' })
  phrases!: string[];

  @Field()
  @Property({ default: true })
  active: boolean = true;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  createdById!: string;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** A keyword rule matched a message. */
@ObjectType({ description: 'A keyword rule matched a message.' })
@Auth(Permission.KEYWORD_ALERTS_RECEIVE)
@TenantScoped()
@Entity({ tableName: 'keyword_alerts' })
@Index({ properties: ['organization', 'workspace', 'createdAt', 'id'] })
export class KeywordAlert extends TenantEntity<'workspaceId' | 'ruleId' | 'messageId' | 'threadId'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => KeywordRule, { ref: true, deleteRule: 'cascade', index: false })
  rule!: Ref<KeywordRule>;

  @ManyToOne(() => Message, { ref: true, deleteRule: 'cascade', index: false })
  message!: Ref<Message>;

  @ManyToOne(() => Thread, { ref: true, deleteRule: 'cascade', index: false })
  thread!: Ref<Thread>;

  @Field({ description: 'The phrase that matched.' })
  @Property({ length: 200 })
  matched!: string;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }

  @Field(() => ID)
  get ruleId(): string {
    return this.rule.id;
  }

  @Field(() => ID)
  get messageId(): string {
    return this.message.id;
  }

  @Field(() => ID)
  get threadId(): string {
    return this.thread.id;
  }
}
