import { Tag } from './catalogue.entity';
import { Contact } from './contact.entity';
import { Message, Thread, type DeliveryStatus, type MessageDirection, type ThreadStatus } from './thread.entity';

/**
 * Plain rows of the list reads mapped to the GraphQL types, without MikroORM hydration. The objects carry
 * every field of the type as an own property (the entity getters too: workspaceId, contactId, threadId,
 * assigneeUserId, displayName...) and `{ id }` references where the entity has a Ref, so resolvers and the
 * `@auth` parent check read them like entities. Their prototype is the entity class's (type-graphql copies a
 * root that is not an instance of its class into a new instance), and their own data properties shadow the
 * class's getters. They are not managed: nothing may flush them (lists only).
 */

function as<T>(cls: { prototype: T }, fields: Record<string, unknown>): T {
  return Object.setPrototypeOf(fields, cls.prototype as object) as T;
}

const ref = (id: string | null) => (id === null ? null : { id });
const date = (v: Date | string | number | null): Date | null => (v === null ? null : v instanceof Date ? v : new Date(v));

/**
 * A timestamp inside json as epoch milliseconds (floored, as parsing its text to a Date truncates the
 * microseconds): a number makes a Date without parsing a string, per row of a page.
 */
export const jsonTime = (column: string): string => `floor(extract(epoch from ${column}) * 1000)`;

export interface ThreadRow {
  id: string;
  created_at: Date | string;
  organization_id: string;
  workspace_id: string;
  contact_id: string;
  status: ThreadStatus;
  snoozed_until: Date | string | null;
  archived: boolean;
  assignee_user_id: string | null;
  assignee_group_id: string | null;
  needs_response: boolean;
  last_activity_at: Date | string;
  last_inbound_at: Date | string | null;
  first_response_at: Date | string | null;
  campaign_id: string | null;
  last_message_preview: string | null;
  channel: string;
}

export const THREAD_COLUMNS = `t.id, t.created_at, t.organization_id, t.workspace_id, t.contact_id, t.status, t.snoozed_until, t.archived, t.assignee_user_id,
  t.assignee_group_id, t.needs_response, t.last_activity_at, t.last_inbound_at, t.first_response_at, t.campaign_id, t.last_message_preview, t.channel`;

export function threadFromRow(r: ThreadRow): Thread {
  return as(Thread, {
    id: r.id,
    createdAt: date(r.created_at),
    organization: ref(r.organization_id),
    organizationId: r.organization_id,
    workspace: ref(r.workspace_id),
    workspaceId: r.workspace_id,
    contact: ref(r.contact_id),
    contactId: r.contact_id,
    status: r.status,
    snoozedUntil: date(r.snoozed_until),
    archived: r.archived,
    assigneeUser: ref(r.assignee_user_id),
    assigneeUserId: r.assignee_user_id,
    assigneeGroup: ref(r.assignee_group_id),
    assigneeGroupId: r.assignee_group_id,
    needsResponse: r.needs_response,
    lastActivityAt: date(r.last_activity_at),
    lastInboundAt: date(r.last_inbound_at),
    firstResponseAt: date(r.first_response_at),
    campaignId: r.campaign_id,
    lastMessagePreview: r.last_message_preview,
    channel: r.channel,
  });
}

export interface ContactRow {
  id: string;
  created_at: Date | string | number;
  organization_id: string;
  workspace_id: string;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  email: string | null;
  custom_fields: Record<string, string | number | boolean | null> | null;
  merged_into_id: string | null;
  updated_at: Date | string | number;
}

/** A contact as json, for the thread page statement (prefix-free keys of ContactRow). */
export const CONTACT_JSON = `json_build_object('id', c.id, 'created_at', ${jsonTime('c.created_at')}, 'organization_id', c.organization_id, 'workspace_id', c.workspace_id,
  'first_name', c.first_name, 'last_name', c.last_name, 'phone', c.phone, 'email', c.email, 'custom_fields', c.custom_fields,
  'merged_into_id', c.merged_into_id, 'updated_at', ${jsonTime('c.updated_at')})`;

export function contactFromRow(r: ContactRow): Contact {
  const name = [r.first_name, r.last_name].filter(Boolean).join(' ');
  return as(Contact, {
    id: r.id,
    createdAt: date(r.created_at),
    organization: ref(r.organization_id),
    organizationId: r.organization_id,
    workspace: ref(r.workspace_id),
    workspaceId: r.workspace_id,
    firstName: r.first_name,
    lastName: r.last_name,
    phone: r.phone,
    email: r.email,
    customFields: r.custom_fields ?? {},
    mergedIntoId: r.merged_into_id,
    updatedAt: date(r.updated_at),
    // As Contact.displayName.
    displayName: name || r.phone || r.email || 'Unknown',
  });
}

export interface TagRow {
  id: string;
  created_at: Date | string | number;
  organization_id: string;
  workspace_id: string;
  name: string;
  color: string | null;
}

export function tagFromRow(r: TagRow): Tag {
  return as(Tag, {
    id: r.id,
    createdAt: date(r.created_at),
    organization: ref(r.organization_id),
    organizationId: r.organization_id,
    workspace: ref(r.workspace_id),
    workspaceId: r.workspace_id,
    name: r.name,
    color: r.color,
  });
}

export interface MessageRowOut {
  id: string;
  created_at: Date | string;
  organization_id: string;
  workspace_id: string;
  thread_id: string;
  direction: MessageDirection;
  body: string;
  status: DeliveryStatus;
  status_updated_at: Date | string | null;
  error: string | null;
  author_id: string | null;
  automated: boolean;
  idempotency_key: string | null;
  provider_message_id: string | null;
  external_id: string | null;
}

export const MESSAGE_COLUMNS = `m.id, m.created_at, m.organization_id, m.workspace_id, m.thread_id, m.direction, m.body, m.status, m.status_updated_at,
  m.error, m.author_id, m.automated, m.idempotency_key, m.provider_message_id, m.external_id`;

/** A message page's keyset: (created_at, id), newest first. */
export const messageKey = (m: Message): unknown[] => [m.createdAt.toISOString(), m.id];

export function messageFromRow(r: MessageRowOut): Message {
  return as(Message, {
    id: r.id,
    createdAt: date(r.created_at),
    organization: ref(r.organization_id),
    organizationId: r.organization_id,
    workspace: ref(r.workspace_id),
    workspaceId: r.workspace_id,
    thread: ref(r.thread_id),
    threadId: r.thread_id,
    direction: r.direction,
    body: r.body,
    status: r.status,
    statusUpdatedAt: date(r.status_updated_at),
    error: r.error,
    authorId: r.author_id,
    automated: r.automated,
    idempotencyKey: r.idempotency_key,
    providerMessageId: r.provider_message_id,
    externalId: r.external_id,
  });
}
