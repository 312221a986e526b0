import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Auth, Public } from '../../graphql/auth';
import { ConnectionType } from '../../graphql/pagination';
import { Permission } from '../identity';
import { CampaignStatus, RecipientStatus } from './campaign.entity';
import { ResponseScriptType } from './campaign.types';
import { TexterInvite } from './p2p.entity';

@ObjectType({ description: 'A texter link just created: its secret is shown this once (only its hash is stored).' })
@Auth([])
export class TexterInviteCreated {
  @Field(() => TexterInvite)
  invite!: TexterInvite;

  @Field({ description: 'The secret to put in the link; texters pass it to joinCampaign.' })
  token!: string;
}

/** What a texter sees of a campaign they joined (seed 001): its name, script and the fields of the message. */
@ObjectType({ description: "A campaign as its texter sees it: name, script, the message's fields, and their own counts." })
@Auth(Permission.THREADS_REQUEST)
export class TexterCampaign {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  workspaceId!: string;

  @Field()
  name!: string;

  @Field(() => CampaignStatus)
  status!: CampaignStatus;

  @Field({ description: 'The initial message as written, with its {{variables}}.' })
  messageTemplate!: string;

  @Field(() => [String], { description: 'The variables of the initial message (contact.firstName, custom.district, ...).' })
  variables!: string[];

  @Field(() => [ResponseScriptType])
  responseScripts!: ResponseScriptType[];

  @Field(() => Int)
  maxThreadsPerRequest!: number;

  @Field(() => Date)
  joinedAt!: Date;

  @Field(() => Int, { description: 'Contacts handed to the viewer and not texted yet.' })
  assignedToMe!: number;

  @Field(() => Int)
  sentByMe!: number;
}

export const TexterCampaignConnection = ConnectionType(TexterCampaign, 'TexterCampaign');

@ObjectType({ description: 'A variable of the initial message and its value for one contact.' })
@Public('a value of the assignment it belongs to, which carries the @auth')
export class TemplateFieldValue {
  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  value!: string | null;
}

/** One contact handed to a texter: the thread to text in, the rendered message and the fields it uses. */
@ObjectType({ description: 'A contact handed to the viewer (a texter) in a campaign: the rendered message and its fields.' })
@Auth(Permission.THREADS_REQUEST)
export class CampaignAssignment {
  @Field(() => ID, { description: 'The recipient id: sendCampaignMessage takes it.' })
  id!: string;

  @Field(() => ID)
  campaignId!: string;

  @Field(() => ID)
  workspaceId!: string;

  @Field(() => ID, { nullable: true })
  threadId!: string | null;

  @Field(() => ID)
  contactId!: string;

  @Field(() => String, { nullable: true })
  firstName!: string | null;

  @Field(() => String, { nullable: true })
  lastName!: string | null;

  @Field(() => [TemplateFieldValue])
  fields!: TemplateFieldValue[];

  @Field({ description: 'The initial message rendered for this contact.' })
  message!: string;

  @Field(() => RecipientStatus)
  status!: RecipientStatus;

  @Field(() => ID, { nullable: true })
  messageId!: string | null;

  @Field(() => Date, { nullable: true })
  sentAt!: Date | null;
}

@ObjectType({ description: 'A reply in a campaign thread that nobody holds yet: claim it with claimCampaignReply.' })
@Auth(Permission.THREADS_REQUEST)
export class CampaignReply {
  @Field(() => ID)
  threadId!: string;

  @Field(() => ID)
  campaignId!: string;

  @Field(() => ID)
  workspaceId!: string;

  @Field(() => String, { nullable: true })
  contactFirstName!: string | null;

  @Field(() => String, { nullable: true })
  @Auth(Permission.MESSAGES_READ_BODY)
  lastMessagePreview!: string | null;

  @Field(() => Date, { nullable: true })
  lastInboundAt!: Date | null;
}

@ObjectType({ description: 'A texter of a campaign (supervisors see them all), with what they hold and sent.' })
@Auth([Permission.CAMPAIGNS_READ, Permission.USERS_READ])
export class CampaignTexterRow {
  @Field(() => ID)
  userId!: string;

  @Field(() => ID)
  workspaceId!: string;

  @Field()
  name!: string;

  @Field()
  email!: string;

  @Field(() => Date)
  joinedAt!: Date;

  @Field(() => Int)
  assigned!: number;

  @Field(() => Int)
  sent!: number;
}

/** One contact of a campaign as a supervisor sees it: texter, thread, and opt-out state with who opted them out. */
@ObjectType({ description: 'A contact of a campaign: its texter, thread, and opt-out status with who opted them out.' })
@Auth([Permission.CAMPAIGNS_READ, Permission.THREADS_READ_ALL, Permission.OPT_OUTS_READ])
export class CampaignThreadRow {
  @Field(() => ID)
  recipientId!: string;

  @Field(() => ID)
  campaignId!: string;

  @Field(() => ID)
  workspaceId!: string;

  @Field(() => ID)
  contactId!: string;

  @Field(() => String, { nullable: true })
  firstName!: string | null;

  @Field(() => String, { nullable: true })
  lastName!: string | null;

  @Field()
  phone!: string;

  @Field(() => RecipientStatus)
  status!: RecipientStatus;

  @Field(() => String, { nullable: true })
  skipReason!: string | null;

  @Field(() => ID, { nullable: true })
  texterId!: string | null;

  @Field(() => String, { nullable: true })
  texterName!: string | null;

  @Field(() => ID, { nullable: true })
  threadId!: string | null;

  @Field(() => Date, { nullable: true })
  sentAt!: Date | null;

  @Field({ description: 'An active opt-out covers the number (this workspace or the whole organization).' })
  optedOut!: boolean;

  @Field(() => Date, { nullable: true })
  optedOutAt!: Date | null;

  @Field(() => ID, { nullable: true, description: 'Who recorded the opt-out; null when the contact texted STOP.' })
  optedOutById!: string | null;

  @Field(() => String, { nullable: true })
  optedOutByName!: string | null;

  @Field(() => String, { nullable: true, description: 'How: MANUAL, KEYWORD, IMPORT ...' })
  optOutSource!: string | null;

  @Field()
  optOutOrganizationWide!: boolean;
}

export const CampaignThreadRowConnection = ConnectionType(CampaignThreadRow, 'CampaignThreadRow');
