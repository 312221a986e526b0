import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Auth, Public } from '../../graphql/auth';
import { ConnectionType } from '../../graphql/pagination';
import { Permission } from '../identity';
import { Contact } from '../inbox';
import { Campaign, CampaignGroup, CampaignKind } from './campaign.entity';

@InputType({ description: 'Which contacts: a search over names, phone and email, and/or one custom field equal to a value.' })
export class ContactFilterInput {
  @Field(() => String, { nullable: true })
  search?: string | null;

  @Field(() => String, { nullable: true, description: 'A custom field name ...' })
  customField?: string | null;

  @Field(() => String, { nullable: true, description: '... and the value it must equal.' })
  customValue?: string | null;
}

@InputType({ description: 'Contacts to add to (or remove from) a group: by ids, by a filter, or by CSV (one way per call).' })
export class GroupContactsInput {
  @Field(() => [ID], { nullable: true })
  contactIds?: string[] | null;

  @Field(() => ContactFilterInput, { nullable: true })
  filter?: ContactFilterInput | null;

  @Field(() => String, { nullable: true, description: 'CSV with a header row: phone (required), firstName, lastName, email; other columns become custom fields. Contacts not yet in the workspace are created.' })
  csv?: string | null;
}

export enum GroupRowError {
  UNKNOWN_CONTACT = 'UNKNOWN_CONTACT',
  INVALID_PHONE = 'INVALID_PHONE',
  MISSING_PHONE = 'MISSING_PHONE',
  DUPLICATE_ROW = 'DUPLICATE_ROW',
  INVALID_ROW = 'INVALID_ROW',
}
registerEnumType(GroupRowError, { name: 'GroupRowError', description: 'Why one row (or id) of a group change was not applied.' });

@ObjectType({ description: 'A row of a group change that was not applied, and why.' })
@Auth([])
export class GroupRowRejection {
  @Field(() => Int, { description: 'The CSV line (header = 1), or the position of the id in contactIds (from 1).' })
  line!: number;

  @Field(() => GroupRowError)
  code!: GroupRowError;

  @Field()
  reason!: string;
}

@ObjectType({ description: 'What a group change did.' })
@Auth([])
export class GroupChangeReport {
  @Field(() => Int, { description: 'Contacts added to (or removed from) the group.' })
  changed!: number;

  @Field(() => Int, { description: 'Contacts already in the group (add) or not in it (remove).' })
  unchanged!: number;

  @Field(() => Int, { description: 'Contacts created by a CSV import.' })
  createdContacts!: number;

  @Field(() => [GroupRowRejection])
  rejected!: GroupRowRejection[];

  @Field(() => Int)
  size!: number;
}

@ObjectType({ description: 'One contact of a campaign group.' })
@Auth(Permission.CAMPAIGNS_READ, { scope: 'parent' })
export class CampaignGroupMemberNode {
  @Field(() => ID)
  workspaceId!: string;

  @Field(() => Contact, { nullable: true })
  @Auth(Permission.CONTACTS_READ)
  contact!: Contact;

  @Field(() => Date)
  addedAt!: Date;

  /** The keyset of the membership row. */
  memberId!: string;
}

export const CampaignGroupMemberConnection = ConnectionType(CampaignGroupMemberNode, 'CampaignGroupMember');
export const CampaignGroupConnection = ConnectionType(CampaignGroup, 'CampaignGroup');
export const CampaignConnection = ConnectionType(Campaign, 'Campaign');

@ObjectType({ description: 'What the viewer may do with this campaign group.' })
@Public('computed for the viewer from their own access; carries no data of its own')
export class CampaignGroupViewerCan {
  @Field()
  rename!: boolean;

  @Field()
  delete!: boolean;

  @Field()
  addContacts!: boolean;
}

@ObjectType({ description: 'What the viewer may do with this campaign.' })
@Public('computed for the viewer from their own access; carries no data of its own')
export class CampaignViewerCan {
  @Field()
  edit!: boolean;

  @Field()
  start!: boolean;

  @Field()
  pause!: boolean;

  @Field()
  resume!: boolean;

  @Field()
  cancel!: boolean;

  @Field({ description: 'Create and revoke texter links (a peer-to-peer campaign not yet over, CAMPAIGNS_MANAGE).' })
  inviteTexters!: boolean;
}

@ObjectType({ description: 'A canned reply shown to texters.' })
@Auth([])
export class ResponseScriptType {
  @Field()
  name!: string;

  @Field()
  body!: string;
}

@InputType()
export class ResponseScriptInput {
  @Field()
  name!: string;

  @Field()
  body!: string;
}

@InputType({ description: 'A campaign as composed; on update, omitted fields keep their value.' })
export class CampaignInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => CampaignKind, { nullable: true })
  kind?: CampaignKind | null;

  @Field(() => String, { nullable: true })
  messageTemplate?: string | null;

  @Field(() => [ResponseScriptInput], { nullable: true })
  responseScripts?: ResponseScriptInput[] | null;

  @Field(() => [ID], { nullable: true })
  targetGroupIds?: string[] | null;

  @Field(() => ContactFilterInput, { nullable: true })
  contactFilter?: ContactFilterInput | null;

  @Field(() => String, { nullable: true })
  senderNumber?: string | null;

  @Field(() => String, { nullable: true })
  senderName?: string | null;

  @Field(() => Date, { nullable: true })
  startAt?: Date | null;

  @Field(() => String, { nullable: true })
  quietHoursStart?: string | null;

  @Field(() => String, { nullable: true })
  quietHoursEnd?: string | null;

  @Field(() => Int, { nullable: true })
  maxThreadsPerRequest?: number | null;
}

@ObjectType({ description: 'A contact the initial message cannot be rendered for: the variables it has no value for.' })
@Auth([])
export class MissingVariables {
  @Field(() => ID)
  contactId!: string;

  @Field(() => [String])
  missing!: string[];
}

@ObjectType({ description: 'What starting the campaign would do, computed now.' })
@Auth([])
export class CampaignPreflight {
  @Field(() => Int, { description: 'Distinct phone numbers targeted.' })
  recipients!: number;

  @Field(() => Int)
  optedOut!: number;

  @Field(() => [String])
  variables!: string[];

  @Field(() => [MissingVariables], { description: 'Up to 1,000 contacts missing a variable.' })
  missingVariables!: MissingVariables[];

  @Field(() => Int)
  missingVariablesCount!: number;
}

@ObjectType({ description: 'Counts of a campaign: where every recipient stands.' })
@Auth([])
export class CampaignProgress {
  @Field(() => ID)
  campaignId!: string;

  @Field(() => ID)
  workspaceId!: string;

  @Field(() => Int)
  total!: number;

  @Field(() => Int, { description: 'Not sent yet (pending, being sent, or assigned to a texter).' })
  queued!: number;

  @Field(() => Int)
  sent!: number;

  @Field(() => Int)
  delivered!: number;

  @Field(() => Int)
  failed!: number;

  @Field(() => Int, { description: 'Never sent: opted out at start.' })
  skippedOptedOut!: number;

  @Field(() => Int, { description: 'Never sent: a variable of the message had no value.' })
  skippedMissingVariables!: number;

  @Field(() => Int, { description: 'Recipients who replied.' })
  replied!: number;

  @Field(() => Int, { description: 'Recipients who opted out after the campaign reached them.' })
  optedOutAfter!: number;

  @Field(() => String, { nullable: true })
  status!: string | null;

  @Field(() => String, { nullable: true, description: 'Live events only: resume after it.' })
  cursor?: string | null;
}
