import { Entity, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';
import { Campaign } from './campaign.entity';

/**
 * A texter invitation link of a peer-to-peer campaign (seed 001: "Texter Link"). Only the SHA-256 of its
 * secret is stored, like every other bearer secret; it expires, and whoever manages the campaign revokes it.
 */
@ObjectType({ description: 'A texter invitation link of a campaign (the secret is shown once, when it is created).' })
@Auth(Permission.CAMPAIGNS_MANAGE)
@TenantScoped()
@Entity({ tableName: 'campaign_texter_invites' })
@Unique({ properties: ['organization', 'tokenHash'] })
@Index({ properties: ['organization', 'campaign', 'createdAt'] })
export class TexterInvite extends TenantEntity<'revokedAt' | 'revokedById' | 'campaignId'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne(() => Campaign, { ref: true, deleteRule: 'cascade', index: false })
  campaign!: Ref<Campaign>;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  workspaceId!: string;

  @Property({ length: 64 })
  tokenHash!: string;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  createdById!: string;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  revokedById: string | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get campaignId(): string {
    return this.campaign.id;
  }
}

/** A user who joined a campaign through one of its texter links: they request, send and claim in it. */
@TenantScoped()
@Entity({ tableName: 'campaign_texters' })
@Unique({ properties: ['organization', 'campaign', 'userId'] })
@Index({ properties: ['organization', 'userId', 'createdAt'] })
export class CampaignTexter extends TenantEntity {
  @ManyToOne(() => Campaign, { ref: true, deleteRule: 'cascade', index: false })
  campaign!: Ref<Campaign>;

  @Property({ type: 'uuid' })
  workspaceId!: string;

  @Property({ type: 'uuid' })
  userId!: string;

  /** The link they joined through. */
  @Property({ type: 'uuid' })
  inviteId!: string;
}
