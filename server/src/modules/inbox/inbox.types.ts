import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Auth, Public } from '../../graphql/auth';
import { ConnectionType } from '../../graphql/pagination';
import { Permission } from '../identity';
import { KeywordAlert } from './catalogue.entity';
import { Contact, OptOut } from './contact.entity';
import { Message, Thread, ThreadStatus } from './thread.entity';

export const ThreadConnection = ConnectionType(Thread, 'Thread');
export const MessageConnection = ConnectionType(Message, 'Message');
export const ContactConnection = ConnectionType(Contact, 'Contact');
export const OptOutConnection = ConnectionType(OptOut, 'OptOut');
export const KeywordAlertConnection = ConnectionType(KeywordAlert, 'KeywordAlert');

@InputType({ description: 'Thread list filters; all optional, combined with AND.' })
export class ThreadFilterInput {
  @Field(() => ThreadStatus, { nullable: true })
  status?: ThreadStatus | null;

  @Field({ nullable: true, description: 'Archived threads instead of the inbox (default false).' })
  archived?: boolean;

  @Field(() => String, { nullable: true, description: '"me", "unassigned", or a user id.' })
  assignee?: string | null;

  @Field(() => ID, { nullable: true })
  agentGroupId?: string | null;

  @Field(() => ID, { nullable: true })
  tagId?: string | null;

  @Field(() => Boolean, { nullable: true })
  needsResponse?: boolean | null;

  @Field(() => ID, { nullable: true })
  campaignId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Only threads with inbound messages the caller has not read.' })
  unread?: boolean | null;

  @Field(() => String, { nullable: true, description: 'Full-text search over message bodies: needs THREADS_SEARCH and MESSAGES_READ_BODY in the workspace (FORBIDDEN otherwise, since a match reveals what a body says).' })
  search?: string | null;
}

@InputType()
export class SendMessageInput {
  @Field(() => ID)
  threadId!: string;

  @Field(() => String, { nullable: true, description: 'The text; or give templateId.' })
  body?: string | null;

  @Field(() => ID, { nullable: true, description: 'A template rendered for this contact; missing variables are an error.' })
  templateId?: string | null;

  @Field(() => String, { nullable: true, description: 'Retrying with the same key returns the first message and sends nothing.' })
  idempotencyKey?: string | null;
}

@InputType()
export class StartThreadInput {
  @Field(() => ID)
  workspaceId!: string;

  @Field(() => ID, { nullable: true })
  contactId?: string | null;

  @Field(() => String, { nullable: true, description: 'A phone number; the contact is created when new.' })
  phone?: string | null;

  @Field()
  body!: string;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;

  @Field(() => String, { nullable: true, description: 'The channel of the new thread: lowercase letters, digits, _ and - (1 to 32); default "sms".' })
  channel?: string | null;
}

@InputType()
export class InboundMessageInput {
  @Field(() => ID)
  workspaceId!: string;

  @Field({ description: "The sender's phone number." })
  from!: string;

  @Field()
  body!: string;

  @Field(() => String, { nullable: true, description: "The channel's delivery id: a replay is stored once." })
  externalId?: string | null;

  @Field(() => String, { nullable: true, description: 'The channel it came over ("sms", "whatsapp"...; default "sms"): it joins the contact\'s open thread on that channel.' })
  channel?: string | null;
}

@InputType()
export class ContactInput {
  @Field(() => String, { nullable: true })
  firstName?: string | null;

  @Field(() => String, { nullable: true })
  lastName?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  customFields?: Record<string, unknown> | null;
}

@InputType()
export class OptOutInput {
  @Field(() => ID, { nullable: true, description: 'Null: organization-wide (owners).' })
  workspaceId?: string | null;

  @Field({ description: 'A phone number or email.' })
  address!: string;

  @Field(() => Date, { nullable: true, description: 'Null: permanent.' })
  until?: Date | null;

  @Field(() => String, { nullable: true })
  reason?: string | null;
}

@ObjectType()
@Public('a row number and a reason, reported to whoever ran the import')
export class RejectedRow {
  @Field(() => Int)
  line!: number;

  @Field()
  reason!: string;
}

@ObjectType({ description: 'What an import did: accepted rows are committed together.' })
@Auth([])
export class ImportReport {
  @Field(() => Int)
  imported!: number;

  @Field(() => [RejectedRow])
  rejected!: RejectedRow[];
}

@ObjectType({ description: "The caller's unread badge for a workspace." })
@Auth([])
export class UnreadCounts {
  @Field(() => ID)
  workspaceId!: string;

  @Field(() => Int)
  threads!: number;

  @Field(() => Int)
  messages!: number;
}

@ObjectType({ description: 'What the viewer may do with this thread.' })
@Public('computed for the viewer from their own access; carries no data of its own')
export class ThreadViewerCan {
  @Field()
  send!: boolean;

  @Field()
  note!: boolean;

  @Field()
  assign!: boolean;

  @Field()
  transfer!: boolean;

  @Field()
  close!: boolean;

  @Field()
  archive!: boolean;

  @Field()
  tag!: boolean;

  @Field()
  readBodies!: boolean;
}

@ObjectType({ description: 'A new webhook signing secret, shown once.' })
@Auth(Permission.WEBHOOKS_MANAGE, { scope: 'anywhere' })
export class WebhookSecret {
  @Field(() => ID)
  workspaceId!: string;

  @Field({ description: 'HMAC-SHA256 key: sign the raw body, send `X-Switchboard-Signature: sha256=<hex>`.' })
  secret!: string;
}

@ObjectType({ description: 'What happened to an inbound message pushed by an integration.' })
@Auth(Permission.MESSAGES_INGEST, { scope: 'anywhere' })
export class InboundReceipt {
  @Field(() => ID)
  messageId!: string;

  @Field(() => ID)
  threadId!: string;

  @Field({ description: 'The externalId was seen before: this is the stored message, nothing new was written.' })
  duplicate!: boolean;
}
