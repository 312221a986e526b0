import { ReadAuditEntry } from '../modules/reports/read-audit.entity';
import { Organization, Workspace } from '../modules/identity/organization.entity';
import { CustomRole, Membership, User } from '../modules/identity/user.entity';
import { ApiKey, Invitation, OutboxMail, Session } from '../modules/identity/credentials.entity';
import { KnownDevice, PasswordResetToken } from '../modules/identity/accounts.entity';
import { AgentGroup, AgentGroupMember, AuditLogEntry } from '../modules/identity/team.entity';
import { Contact, OptOut } from '../modules/inbox/contact.entity';
import { AssignmentEvent, Message, Note, ReadCursor, Thread } from '../modules/inbox/thread.entity';
import { COMMERCE_ENTITIES } from '../modules/commerce/entities';
import { KeywordAlert, KeywordRule, Tag, Template, ThreadTag, WorkspaceSettings } from '../modules/inbox/catalogue.entity';
import { Campaign, CampaignGroup, CampaignGroupMember, CampaignRecipient } from '../modules/campaigns/campaign.entity';
import { CampaignTexter, TexterInvite } from '../modules/campaigns/p2p.entity';
import { ShortcodeKeyword, ShortcodeKeywordHit, ShortcodeSubscription } from '../modules/campaigns/shortcode.entity';
import { PhoneNumber } from '../modules/campaigns/phone-number.entity';

/** Every entity, listed explicitly (no folder globs: the same list works under tsc output and vitest). */
export const ENTITIES: Function[] = [
  Organization,
  Workspace,
  User,
  Membership,
  CustomRole,
  Session,
  ApiKey,
  Invitation,
  OutboxMail,
  AgentGroup,
  AgentGroupMember,
  AuditLogEntry,
  Contact,
  OptOut,
  Thread,
  Message,
  Note,
  ReadCursor,
  AssignmentEvent,
  Tag,
  ThreadTag,
  Template,
  WorkspaceSettings,
  KeywordRule,
  KeywordAlert,
  PasswordResetToken,
  KnownDevice,
  ...COMMERCE_ENTITIES,
  CampaignGroup,
  CampaignGroupMember,
  Campaign,
  CampaignRecipient,
  TexterInvite,
  CampaignTexter,
  ShortcodeKeyword,
  ShortcodeSubscription,
  ShortcodeKeywordHit,
  PhoneNumber,
];
ENTITIES.push(ReadAuditEntry);
