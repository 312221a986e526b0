import { Entity, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';
import { Contact } from '../inbox';
import { CampaignGroup } from './campaign.entity';

/**
 * An opt-in keyword of a workspace's shortcode (seed 001: "Create opt-in keywords and automatic messages"):
 * a contact texting it is subscribed to the keyword's campaign group and gets the automatic reply.
 */
@ObjectType({ description: 'An opt-in keyword: texting it subscribes the contact to a campaign group and sends the automatic reply.' })
@Auth(Permission.SHORTCODE_MANAGE)
@TenantScoped()
@Entity({ tableName: 'shortcode_keywords' })
@Unique({ properties: ['organization', 'workspaceId', 'keyword'] })
export class ShortcodeKeyword extends TenantEntity<'active' | 'updatedAt' | 'groupId'> {
  @Field(() => ID)
  declare id: string;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  workspaceId!: string;

  @Field({ description: 'Upper case, letters and digits; matched against the whole inbound message, case-insensitively.' })
  @Property({ length: 30 })
  keyword!: string;

  @ManyToOne(() => CampaignGroup, { ref: true, deleteRule: 'cascade', index: false })
  group!: Ref<CampaignGroup>;

  @Field({ description: 'The automatic reply to each inbound keyword message.' })
  @Property({ type: 'text' })
  autoReply!: string;

  @Field()
  @Property({ default: true })
  active: boolean = true;

  @Property({ type: 'uuid' })
  createdById!: string;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => ID)
  get groupId(): string {
    return this.group.id;
  }
}

/** One contact subscribed to one keyword, once; opting out keeps the row (who and when). */
@TenantScoped()
@Entity({ tableName: 'shortcode_subscriptions' })
@Unique({ properties: ['organization', 'keyword', 'contact'] })
@Index({ properties: ['organization', 'keyword', 'createdAt', 'id'] })
export class ShortcodeSubscription extends TenantEntity<'optedOutAt' | 'optedOutById' | 'inboundMessageId'> {
  @ManyToOne(() => ShortcodeKeyword, { ref: true, deleteRule: 'cascade', index: false })
  keyword!: Ref<ShortcodeKeyword>;

  @ManyToOne(() => Contact, { ref: true, deleteRule: 'cascade', index: false })
  contact!: Ref<Contact>;

  @Property({ type: 'uuid' })
  workspaceId!: string;

  /** KEYWORD (texted in) or MANUAL (added by a manager). */
  @Property({ length: 10 })
  source!: string;

  /** The inbound message that subscribed the contact (KEYWORD). */
  @Property({ type: 'uuid', nullable: true })
  inboundMessageId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  optedOutAt: Date | null = null;

  /** Who opted the subscriber out (a manager); null when not opted out. */
  @Property({ type: 'uuid', nullable: true })
  optedOutById: string | null = null;
}

/**
 * One inbound keyword message, applied once: the unique inbound message id makes the keyword worker
 * idempotent (a replayed batch subscribes and replies nothing more). The reply is dispatched after commit and
 * `replySentAt` records it; a reply committed but not yet handed to the channel is sent on the next pass with
 * the same message id (the channel's idempotency key).
 */
@TenantScoped()
@Entity({ tableName: 'shortcode_keyword_hits' })
@Unique({ properties: ['organization', 'inboundMessageId'] })
@Index({ properties: ['organization', 'keywordId', 'createdAt'] })
export class ShortcodeKeywordHit extends TenantEntity<'replyMessageId' | 'replySentAt' | 'contactId'> {
  @Property({ type: 'uuid' })
  workspaceId!: string;

  @Property({ type: 'uuid' })
  keywordId!: string;

  @Property({ type: 'uuid' })
  inboundMessageId!: string;

  @Property({ type: 'uuid' })
  threadId!: string;

  @Property({ type: 'uuid', nullable: true })
  contactId: string | null = null;

  /** SUBSCRIBED, ALREADY_SUBSCRIBED or OPTED_OUT (an opted-out contact gets neither subscription nor reply). */
  @Property({ length: 20 })
  outcome!: string;

  @Property({ type: 'uuid', nullable: true })
  replyMessageId: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  replySentAt: Date | null = null;
}
