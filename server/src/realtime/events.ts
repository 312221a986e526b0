/**
 * The events clients stream. Plain JSON DTOs (ids, ISO strings): they are stored in the event log and
 * carried between processes, never entities.
 */
export enum EventType {
  THREAD_CREATED = 'THREAD_CREATED',
  THREAD_UPDATED = 'THREAD_UPDATED',
  MESSAGE_ADDED = 'MESSAGE_ADDED',
  MESSAGE_STATUS = 'MESSAGE_STATUS',
  NOTE_ADDED = 'NOTE_ADDED',
  TAGS_CHANGED = 'TAGS_CHANGED',
  ASSIGNMENT_CHANGED = 'ASSIGNMENT_CHANGED',
  KEYWORD_ALERT = 'KEYWORD_ALERT',
  AVAILABILITY_CHANGED = 'AVAILABILITY_CHANGED',
  THREAD_READ = 'THREAD_READ',
  /** Counts of a campaign after a batch of sends or a status change (one per batch, not per message). */
  CAMPAIGN_PROGRESS = 'CAMPAIGN_PROGRESS',
}

/**
 * The log's one non-client event: what a user, session or API key may do changed (access-changes.ts).
 * Kept out of EventType (the GraphQL LiveEventType): it is routed to sockets, never streamed to clients.
 */
export const ACCESS_CHANGED = 'ACCESS_CHANGED' as const;
export type LogEventType = EventType | typeof ACCESS_CHANGED | OrderEventType | typeof EXPORT_PROGRESS;

/** An export's status and row count (modules/reports/exports), streamed by `exportProgress` only. */
export const EXPORT_PROGRESS = 'EXPORT_PROGRESS' as const;

export interface ExportProgressState {
  exportId: string;
  status: string;
  rowsWritten: number;
  bytesWritten: number;
  error: string | null;
}

/** The thread as it is after the change: what visibility is decided on. */
export interface ThreadState {
  id: string;
  status: string;
  archived: boolean;
  needsResponse: boolean;
  assigneeUserId: string | null;
  assigneeGroupId: string | null;
  lastActivityAt: string;
  campaignId: string | null;
}

export interface MessageState {
  id: string;
  direction: string;
  body: string;
  status: string;
  authorId: string | null;
  automated: boolean;
  createdAt: string;
}

export interface EventPayload {
  thread?: ThreadState;
  message?: MessageState;
  note?: { id: string; authorId: string; body: string; createdAt: string };
  tagIds?: string[];
  assignment?: { kind: string; actorId: string | null; fromUserId: string | null; fromGroupId: string | null; toUserId: string | null; toGroupId: string | null; reason: string | null };
  alert?: { id: string; ruleId: string; messageId: string; matched: string };
  availability?: { userId: string; availability: string };
  read?: { userId: string };
  access?: AccessChange;
  order?: OrderState;
  payment?: PaymentState;
  comment?: { id: string; authorId: string; body: string; createdAt: string };
  campaign?: CampaignProgressState;
  export?: ExportProgressState;
}

/** A campaign's counts as logged by CAMPAIGN_PROGRESS. */
export interface CampaignProgressState {
  campaignId: string;
  status: string;
  total: number;
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  skippedOptedOut: number;
  skippedMissingVariables: number;
  replied: number;
  optedOutAfter: number;
}

/** Order events (modules/commerce), streamed by `orderEvents` only: the thread streams never carry them. */
export enum OrderEventType {
  ORDER_CREATED = 'ORDER_CREATED',
  ORDER_UPDATED = 'ORDER_UPDATED',
  ORDER_COMMENTED = 'ORDER_COMMENTED',
  PAYMENT_RECORDED = 'PAYMENT_RECORDED',
  PAYMENT_UPDATED = 'PAYMENT_UPDATED',
}

/** The order as it is after the change, with what visibility is decided on (its thread's assignee then). */
export interface OrderState {
  id: string;
  status: string;
  threadId: string | null;
  threadAssigneeUserId: string | null;
  threadAssigneeGroupId: string | null;
  createdById: string;
  currency: string;
  totalAmount: number;
  paidAmount: number;
  deleted: boolean;
}

export interface PaymentState {
  id: string;
  status: string;
  amount: number;
  rejectionReason: string | null;
}

/** Why access changed (for logs and metrics; enforcement is the same for every kind: re-resolve the credential). */
export enum AccessChangeKind {
  MEMBERSHIP = 'MEMBERSHIP',
  USER_DEACTIVATED = 'USER_DEACTIVATED',
  USER_REACTIVATED = 'USER_REACTIVATED',
  CUSTOM_ROLE = 'CUSTOM_ROLE',
  AGENT_GROUP = 'AGENT_GROUP',
  API_KEY_REVOKED = 'API_KEY_REVOKED',
  LOGOUT = 'LOGOUT',
  SESSIONS_REVOKED = 'SESSIONS_REVOKED',
  PASSWORD_CHANGED = 'PASSWORD_CHANGED',
}

/**
 * One access change, as logged. Whom it concerns: the sockets of `userId` (sessions and the API keys the user
 * created), of `sessionId`, of `apiKeyId`; with none of them, every socket of the organization.
 */
export interface AccessChange {
  kind: AccessChangeKind;
  userId?: string;
  sessionId?: string;
  apiKeyId?: string;
}

/** An event as appended (inside the mutation's transaction). */
export interface NewEvent {
  organizationId: string;
  workspaceId: string;
  type: LogEventType;
  threadId?: string | null;
  payload: EventPayload;
}

/** An event as read back from the log, with its position. */
export interface LoggedEvent extends NewEvent {
  /** Opaque resume position: the committing transaction's id and the row id. */
  cursor: string;
  xid: string;
  id: string;
  occurredAt: string;
}

/** Cursor order: (xid, id), both 64-bit integers carried as strings. */
export function compareCursor(a: { xid: string; id: string }, b: { xid: string; id: string }): number {
  const ax = BigInt(a.xid);
  const bx = BigInt(b.xid);
  if (ax !== bx) return ax < bx ? -1 : 1;
  const ai = BigInt(a.id);
  const bi = BigInt(b.id);
  return ai === bi ? 0 : ai < bi ? -1 : 1;
}

export function encodeEventCursor(xid: string, id: string): string {
  return Buffer.from(`${xid}:${id}`).toString('base64url');
}

/** xid8 is unsigned 64-bit, the event id a signed bigint: a cursor outside those ranges would fail the SQL cast. */
const MAX_XID = 2n ** 64n - 1n;
const MAX_EVENT_ID = 2n ** 63n - 1n;

export function decodeEventCursor(cursor: string): { xid: string; id: string } | null {
  if (cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const match = /^(\d{1,20}):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || BigInt(match[1]!) > MAX_XID || BigInt(match[2]!) > MAX_EVENT_ID) return null;
  return { xid: match[1]!, id: match[2]! };
}
