/**
 * THE permission catalogue. Every permission the schema's @auth directive can name, the nine role presets
 * mapped onto it, and the add-ons. Nothing else in the code base defines a permission;
 * docs/PERMISSIONS.md is generated from this file (npm run docs:permissions).
 *
 * A permission is held organization-wide (an organization-level membership) or on a workspace, and a
 * workspace grant reaches every workspace below it.
 */
export enum Permission {
  // Organization
  ORGANIZATION_READ = 'ORGANIZATION_READ',
  ORGANIZATION_SETTINGS_MANAGE = 'ORGANIZATION_SETTINGS_MANAGE',
  WORKSPACES_CREATE = 'WORKSPACES_CREATE',
  OWNERS_MANAGE = 'OWNERS_MANAGE',
  CUSTOM_ROLES_MANAGE = 'CUSTOM_ROLES_MANAGE',
  ORGANIZATION_OPT_OUTS_MANAGE = 'ORGANIZATION_OPT_OUTS_MANAGE',
  ORGANIZATION_USAGE_VIEW = 'ORGANIZATION_USAGE_VIEW',
  ORGANIZATION_ANALYTICS_VIEW = 'ORGANIZATION_ANALYTICS_VIEW',
  EXPORTS_CONFIGURE = 'EXPORTS_CONFIGURE',
  BILLING_VIEW = 'BILLING_VIEW',
  DOMAINS_MANAGE = 'DOMAINS_MANAGE',

  // Workspace administration
  WORKSPACE_READ = 'WORKSPACE_READ',
  WORKSPACE_SETTINGS_MANAGE = 'WORKSPACE_SETTINGS_MANAGE',
  PHONE_NUMBERS_MANAGE = 'PHONE_NUMBERS_MANAGE',
  INTEGRATIONS_MANAGE = 'INTEGRATIONS_MANAGE',
  SHORTCODE_MANAGE = 'SHORTCODE_MANAGE',
  USAGE_VIEW = 'USAGE_VIEW',
  API_KEYS_MANAGE = 'API_KEYS_MANAGE',
  WEBHOOKS_MANAGE = 'WEBHOOKS_MANAGE',
  AUDIT_LOG_READ = 'AUDIT_LOG_READ',

  // Team
  USERS_READ = 'USERS_READ',
  USERS_INVITE = 'USERS_INVITE',
  USERS_MANAGE = 'USERS_MANAGE',
  AGENT_GROUPS_MANAGE = 'AGENT_GROUPS_MANAGE',
  AVAILABILITY_MANAGE = 'AVAILABILITY_MANAGE',
  AGENT_DASHBOARD_VIEW = 'AGENT_DASHBOARD_VIEW',
  UNREAD_BADGES_WHEN_OFFLINE = 'UNREAD_BADGES_WHEN_OFFLINE',

  // Conversations
  THREADS_READ = 'THREADS_READ',
  THREADS_READ_ALL = 'THREADS_READ_ALL',
  THREADS_SEARCH = 'THREADS_SEARCH',
  THREADS_ARCHIVE = 'THREADS_ARCHIVE',
  THREADS_CLOSE = 'THREADS_CLOSE',
  THREADS_MARK_NO_RESPONSE = 'THREADS_MARK_NO_RESPONSE',
  THREADS_ASSIGN = 'THREADS_ASSIGN',
  THREADS_TRANSFER = 'THREADS_TRANSFER',
  THREADS_SELF_ASSIGN = 'THREADS_SELF_ASSIGN',
  THREADS_REQUEST = 'THREADS_REQUEST',
  MESSAGES_READ_BODY = 'MESSAGES_READ_BODY',
  MESSAGES_SEND = 'MESSAGES_SEND',
  MESSAGES_INGEST = 'MESSAGES_INGEST',
  NOTES_READ = 'NOTES_READ',
  NOTES_WRITE = 'NOTES_WRITE',
  TAGS_APPLY = 'TAGS_APPLY',
  TAGS_MANAGE = 'TAGS_MANAGE',
  TEMPLATES_READ = 'TEMPLATES_READ',
  TEMPLATES_MANAGE = 'TEMPLATES_MANAGE',
  OFFICE_HOURS_MANAGE = 'OFFICE_HOURS_MANAGE',
  AUTO_RESPONSES_MANAGE = 'AUTO_RESPONSES_MANAGE',
  KEYWORD_RULES_MANAGE = 'KEYWORD_RULES_MANAGE',
  KEYWORD_ALERTS_RECEIVE = 'KEYWORD_ALERTS_RECEIVE',

  // Contacts and opt-outs
  CONTACTS_READ = 'CONTACTS_READ',
  CONTACTS_CREATE = 'CONTACTS_CREATE',
  CONTACTS_EDIT = 'CONTACTS_EDIT',
  CONTACTS_IMPORT = 'CONTACTS_IMPORT',
  OPT_OUTS_READ = 'OPT_OUTS_READ',
  OPT_OUTS_APPLY = 'OPT_OUTS_APPLY',
  OPT_OUTS_REVERSE = 'OPT_OUTS_REVERSE',
  OPT_OUTS_MANAGE = 'OPT_OUTS_MANAGE',

  // Campaigns
  CAMPAIGNS_READ = 'CAMPAIGNS_READ',
  CAMPAIGNS_MANAGE = 'CAMPAIGNS_MANAGE',
  CAMPAIGNS_START = 'CAMPAIGNS_START',
  CAMPAIGN_GROUPS_MANAGE = 'CAMPAIGN_GROUPS_MANAGE',
  CAMPAIGN_GROUPS_ADD_CONTACTS = 'CAMPAIGN_GROUPS_ADD_CONTACTS',

  // Orders and payments
  ORDERS_READ = 'ORDERS_READ',
  ORDERS_READ_ALL = 'ORDERS_READ_ALL',
  CATALOGS_SEND = 'CATALOGS_SEND',
  ORDERS_CREATE = 'ORDERS_CREATE',
  ORDERS_CREATE_INDEPENDENT = 'ORDERS_CREATE_INDEPENDENT',
  ORDERS_MANAGE = 'ORDERS_MANAGE',
  ORDERS_COMMENT = 'ORDERS_COMMENT',
  PAYMENTS_RECONCILE = 'PAYMENTS_RECONCILE',

  // Reports
  REPORTS_VIEW = 'REPORTS_VIEW',
  REPORTS_CONVERSATIONS = 'REPORTS_CONVERSATIONS',
  REPORTS_PAYMENTS = 'REPORTS_PAYMENTS',
  REPORTS_EXPORT = 'REPORTS_EXPORT',
}

/** What each permission lets its holder do, in one sentence (docs and the IDE's descriptions). */
export const PERMISSION_DESCRIPTIONS: Record<Permission, string> = {
  ORGANIZATION_READ: 'See the organization, its workspace tree and its members.',
  ORGANIZATION_SETTINGS_MANAGE: 'Change organization settings.',
  WORKSPACES_CREATE: 'Create workspaces (subaccounts) anywhere in the organization.',
  OWNERS_MANAGE: 'Invite, promote, demote and remove organization owners.',
  CUSTOM_ROLES_MANAGE: "Define the organization's custom roles.",
  ORGANIZATION_OPT_OUTS_MANAGE: 'Upload, search and reverse organization-wide opt-outs.',
  ORGANIZATION_USAGE_VIEW: 'View usage across all workspaces.',
  ORGANIZATION_ANALYTICS_VIEW: 'View analytics across all workspaces.',
  EXPORTS_CONFIGURE: 'Configure data exports (BigQuery, S3).',
  BILLING_VIEW: 'See account pricing.',
  DOMAINS_MANAGE: 'Request link-shortening domains and update their redirect URLs.',
  WORKSPACE_READ: 'See the workspace and its basic settings.',
  WORKSPACE_SETTINGS_MANAGE: 'View and update workspace settings.',
  PHONE_NUMBERS_MANAGE: 'Register phone numbers and edit their display names.',
  INTEGRATIONS_MANAGE: 'Set up integrations for the workspace.',
  SHORTCODE_MANAGE: 'Manage shortcode subscribers, opt-in keywords and automatic messages.',
  USAGE_VIEW: 'View workspace usage.',
  API_KEYS_MANAGE: 'Create and revoke API keys for integrators.',
  WEBHOOKS_MANAGE: 'Manage webhook endpoints and their signing secrets.',
  AUDIT_LOG_READ: 'Read the audit log and the audit of reads (who read which thread, contact or report).',
  USERS_READ: 'See the users of the workspace and their roles.',
  USERS_INVITE: 'Invite users (at the inviter\'s level or lower).',
  USERS_MANAGE: 'Change roles and add-ons, deactivate and reactivate users (at the actor\'s level or lower).',
  AGENT_GROUPS_MANAGE: 'Create, rename and delete agent groups and manage their members.',
  AVAILABILITY_MANAGE: "Set other agents' availability.",
  AGENT_DASHBOARD_VIEW: 'Watch the live agent dashboard.',
  UNREAD_BADGES_WHEN_OFFLINE: 'Receive unread badges even while every staff member is offline.',
  THREADS_READ: 'Read the threads visible to the holder (assigned ones, or all with THREADS_READ_ALL).',
  THREADS_READ_ALL: 'Read every thread of the workspace.',
  THREADS_SEARCH: 'Search conversations.',
  THREADS_ARCHIVE: 'Archive and unarchive threads.',
  THREADS_CLOSE: 'Close, reopen and snooze threads.',
  THREADS_MARK_NO_RESPONSE: 'Mark threads as not needing a response.',
  THREADS_ASSIGN: 'Assign and unassign threads to anyone in the workspace.',
  THREADS_TRANSFER: 'Transfer a thread to a colleague or an agent group.',
  THREADS_SELF_ASSIGN: 'Take the next waiting thread from the queue.',
  THREADS_REQUEST: 'Request batches of campaign threads and claim replies.',
  MESSAGES_READ_BODY: 'Read message bodies (viewers see the thread without them).',
  MESSAGES_SEND: 'Send messages to contacts.',
  MESSAGES_INGEST: 'Push inbound messages from a channel integration (API keys of integrators).',
  NOTES_READ: 'Read internal notes.',
  NOTES_WRITE: 'Add internal notes.',
  TAGS_APPLY: 'Apply and remove tags on threads.',
  TAGS_MANAGE: "Manage the workspace's tag catalogue.",
  TEMPLATES_READ: 'Use templates (canned replies).',
  TEMPLATES_MANAGE: 'Create, edit and delete templates.',
  OFFICE_HOURS_MANAGE: 'Set office hours.',
  AUTO_RESPONSES_MANAGE: 'Set auto-responses and greetings.',
  KEYWORD_RULES_MANAGE: 'Create and edit keyword rules that raise live alerts.',
  KEYWORD_ALERTS_RECEIVE: 'Receive keyword alerts.',
  CONTACTS_READ: 'See contacts, their custom fields and opt-out state.',
  CONTACTS_CREATE: 'Add contacts.',
  CONTACTS_EDIT: 'Edit and merge contacts.',
  CONTACTS_IMPORT: 'Import contacts from CSV.',
  OPT_OUTS_READ: 'See opt-outs and who made them.',
  OPT_OUTS_APPLY: 'Opt a contact out from a thread.',
  OPT_OUTS_REVERSE: 'Reverse an opt-out.',
  OPT_OUTS_MANAGE: 'Upload, search and reverse workspace opt-out lists.',
  CAMPAIGNS_READ: 'See campaigns and their names.',
  CAMPAIGNS_MANAGE: 'Create and edit campaigns.',
  CAMPAIGNS_START: 'Start and send campaigns.',
  CAMPAIGN_GROUPS_MANAGE: 'Create and remove campaign groups.',
  CAMPAIGN_GROUPS_ADD_CONTACTS: 'Add contacts to campaign groups.',
  ORDERS_READ: 'See orders (those of visible threads and their own, or all with ORDERS_READ_ALL) and the product list.',
  ORDERS_READ_ALL: 'See every order of the workspace.',
  CATALOGS_SEND: 'Send product catalogues in conversations.',
  ORDERS_CREATE: 'Create orders from a conversation the holder can read.',
  ORDERS_CREATE_INDEPENDENT: 'Create orders without a conversation.',
  ORDERS_MANAGE: 'Create, cancel and delete orders.',
  ORDERS_COMMENT: 'Comment on orders.',
  PAYMENTS_RECONCILE: 'Reconcile orders, reject payments and reopen rejected orders.',
  REPORTS_VIEW: 'See reports.',
  REPORTS_CONVERSATIONS: 'Generate, filter and export conversation reports.',
  REPORTS_PAYMENTS: 'Generate, filter and export payment reports.',
  REPORTS_EXPORT: 'Export reports to CSV and JSON.',
};

/** Role presets, under their product names (the names docs/PERMISSIONS.md shows). */
export enum Role {
  OWNER = 'OWNER',
  ADMIN = 'ADMIN',
  SUPERVISOR = 'SUPERVISOR',
  AGENT = 'AGENT',
  AUDITOR = 'AUDITOR',
  MARKETER = 'MARKETER',
  VIEWER = 'VIEWER',
  STAKEHOLDER = 'STAKEHOLDER',
  ORDER_ADMIN = 'ORDER_ADMIN',
}

/** Add-on permissions granted per membership on top of its roles. */
export enum AddOn {
  SELF_ASSIGN = 'SELF_ASSIGN',
  TRANSFER = 'TRANSFER',
  INDEPENDENT_ORDERS = 'INDEPENDENT_ORDERS',
  PAYMENT_RECONCILE = 'PAYMENT_RECONCILE',
  CONVERSATION_REPORTS = 'CONVERSATION_REPORTS',
  PAYMENT_REPORTS = 'PAYMENT_REPORTS',
}

const P = Permission;

/** Permissions only an organization-level grant can carry (they make no sense on one workspace). */
export const ORGANIZATION_PERMISSIONS: ReadonlySet<Permission> = new Set([
  P.ORGANIZATION_SETTINGS_MANAGE,
  P.WORKSPACES_CREATE,
  P.OWNERS_MANAGE,
  P.CUSTOM_ROLES_MANAGE,
  P.ORGANIZATION_OPT_OUTS_MANAGE,
  P.ORGANIZATION_USAGE_VIEW,
  P.ORGANIZATION_ANALYTICS_VIEW,
  P.EXPORTS_CONFIGURE,
  P.BILLING_VIEW,
  P.DOMAINS_MANAGE,
]);

const READ_THREADS = [P.WORKSPACE_READ, P.THREADS_READ, P.MESSAGES_READ_BODY, P.NOTES_READ, P.CONTACTS_READ];
const WORK_THREADS = [
  ...READ_THREADS,
  P.MESSAGES_SEND,
  P.NOTES_WRITE,
  P.TAGS_APPLY,
  P.TEMPLATES_READ,
  P.OPT_OUTS_READ,
  P.OPT_OUTS_APPLY,
  P.THREADS_MARK_NO_RESPONSE,
  P.CONTACTS_CREATE,
  P.CAMPAIGNS_READ,
];

const SUPERVISOR = [
  ...WORK_THREADS,
  P.THREADS_READ_ALL,
  P.THREADS_SEARCH,
  P.THREADS_CLOSE,
  P.THREADS_ASSIGN,
  P.THREADS_TRANSFER,
  P.CONTACTS_EDIT,
  P.OPT_OUTS_REVERSE,
  P.USERS_READ,
  P.AVAILABILITY_MANAGE,
  P.AGENT_DASHBOARD_VIEW,
  P.CAMPAIGN_GROUPS_ADD_CONTACTS,
  P.ORDERS_READ,
  P.ORDERS_READ_ALL,
  P.CATALOGS_SEND,
];

const ORDERS = [P.ORDERS_READ, P.ORDERS_CREATE, P.ORDERS_MANAGE, P.ORDERS_COMMENT];
const REPORTS = [P.REPORTS_VIEW, P.REPORTS_CONVERSATIONS, P.REPORTS_EXPORT];

const WORKSPACE_PERMISSIONS = Object.values(Permission).filter((p) => !ORGANIZATION_PERMISSIONS.has(p));

export interface RolePreset {
  role: Role;
  /** Which help-page names it covers. */
  covers: string[];
  /** OWNER is granted on the organization; every other preset on a workspace (or the organization). */
  scope: 'organization' | 'workspace';
  summary: string;
  permissions: ReadonlySet<Permission>;
}

/** What every member sees: the organization and the workspaces they reach (their settings, tags and agent groups). */
const MEMBER_BASE = [P.ORGANIZATION_READ, P.WORKSPACE_READ];

function preset(role: Role, covers: string[], scope: RolePreset['scope'], summary: string, perms: Permission[], base: Permission[] = MEMBER_BASE): RolePreset {
  return { role, covers, scope, summary, permissions: new Set([...base, ...perms]) };
}

export const ROLE_PRESETS: Record<Role, RolePreset> = {
  OWNER: preset(Role.OWNER, ['Organization Owner'], 'organization', 'Everything, in every workspace, present and future.', Object.values(Permission)),
  ADMIN: preset(Role.ADMIN, ['Admin', 'Account Admin', 'Administrator'], 'workspace',
    'Runs the workspace: settings, team, templates, hours, rules, campaigns, opt-out lists, usage, keys; all supervisor abilities.',
    WORKSPACE_PERMISSIONS),
  SUPERVISOR: preset(Role.SUPERVISOR, ['Dispatcher', 'Supervolunteer', 'Supervisor'], 'workspace',
    'Every thread of the workspace: assign, transfer, close, edit contacts, send, tag, note, opt out and reverse; agent availability and the live dashboard; every order; send product catalogues.',
    SUPERVISOR),
  // Seed 001: a texter sees only the campaigns they joined through a texter link (texterCampaigns, not the
  // workspace's campaign list), so the preset leaves CAMPAIGNS_READ out.
  AGENT: preset(Role.AGENT, ['Agent', 'Texter', 'Messaging Agent', 'Conversation Agent'], 'workspace',
    'Threads assigned to them: send, tag, note, opt out, mark not needing response; add contacts; join campaigns by texter link, request, send and claim their threads (only the campaigns they joined); orders from a conversation.',
    [...WORK_THREADS.filter((p) => p !== P.CAMPAIGNS_READ), P.THREADS_REQUEST, P.ORDERS_READ, P.ORDERS_CREATE, P.ORDERS_COMMENT]),
  AUDITOR: preset(Role.AUDITOR, ['Auditor'], 'workspace',
    'Reads every conversation and never sends; search, archive, keyword rules and their alerts; the audit log and the audit of reads.',
    [...READ_THREADS, P.THREADS_READ_ALL, P.THREADS_SEARCH, P.THREADS_ARCHIVE, P.OPT_OUTS_READ, P.CAMPAIGNS_READ,
      P.KEYWORD_RULES_MANAGE, P.KEYWORD_ALERTS_RECEIVE, P.AUDIT_LOG_READ]),
  MARKETER: preset(Role.MARKETER, ['Marketer'], 'workspace',
    'Campaigns: compose and send them, texter links; create and remove campaign groups; shortcode keywords and subscribers.',
    [P.WORKSPACE_READ, P.CONTACTS_READ, P.OPT_OUTS_READ, P.TEMPLATES_READ, P.CAMPAIGNS_READ, P.CAMPAIGNS_MANAGE,
      P.CAMPAIGNS_START, P.CAMPAIGN_GROUPS_MANAGE, P.CAMPAIGN_GROUPS_ADD_CONTACTS, P.SHORTCODE_MANAGE]),
  VIEWER: preset(Role.VIEWER, ['User (view only)'], 'workspace',
    'Read-only; message bodies and notes hidden; cannot modify settings.',
    [P.WORKSPACE_READ, P.THREADS_READ, P.THREADS_READ_ALL, P.CONTACTS_READ, P.CAMPAIGNS_READ, P.TEMPLATES_READ]),
  STAKEHOLDER: preset(Role.STAKEHOLDER, ['Stakeholder'], 'workspace',
    'Manages conversations, orders, tags, templates and reports.',
    [...SUPERVISOR, P.TAGS_MANAGE, P.TEMPLATES_MANAGE, ...ORDERS, ...REPORTS]),
  ORDER_ADMIN: preset(Role.ORDER_ADMIN, ['Order Payment Administrator'], 'workspace',
    'The orders area only: every order of the workspace; create (independent too), cancel, delete and comment on orders.',
    [...ORDERS, P.ORDERS_READ_ALL, P.ORDERS_CREATE_INDEPENDENT],
    // Seed 003: "no access to any other section". WORKSPACE_READ guards workspace settings, tags and agent
    // groups, so it is left out; ORGANIZATION_READ stays for the names of the users on orders (User.name).
    [P.ORGANIZATION_READ]),
};

export interface AddOnPreset {
  addOn: AddOn;
  covers: string[];
  summary: string;
  permissions: ReadonlySet<Permission>;
}

export const ADD_ONS: Record<AddOn, AddOnPreset> = {
  SELF_ASSIGN: { addOn: AddOn.SELF_ASSIGN, covers: ['Conversation Dispenser'], summary: 'Take the next waiting thread.', permissions: new Set([P.THREADS_SELF_ASSIGN]) },
  TRANSFER: { addOn: AddOn.TRANSFER, covers: ['Conversation Transfer'], summary: 'Hand a thread to a colleague or group.', permissions: new Set([P.THREADS_TRANSFER]) },
  INDEPENDENT_ORDERS: { addOn: AddOn.INDEPENDENT_ORDERS, covers: ['Independent Orders'], summary: 'Orders without a conversation; cancel, delete, comment on them.', permissions: new Set([P.ORDERS_READ, P.ORDERS_CREATE_INDEPENDENT, P.ORDERS_MANAGE, P.ORDERS_COMMENT]) },
  PAYMENT_RECONCILE: { addOn: AddOn.PAYMENT_RECONCILE, covers: ['Payment Reconciler', 'Payment Reconciliation'], summary: 'Reconcile, reject payments, reopen rejected orders, comment.', permissions: new Set([P.ORDERS_READ, P.ORDERS_READ_ALL, P.PAYMENTS_RECONCILE, P.ORDERS_COMMENT]) },
  CONVERSATION_REPORTS: { addOn: AddOn.CONVERSATION_REPORTS, covers: ['Conversation Reports'], summary: 'Generate, filter and export conversation reports.', permissions: new Set([P.REPORTS_VIEW, P.REPORTS_CONVERSATIONS, P.REPORTS_EXPORT]) },
  PAYMENT_REPORTS: { addOn: AddOn.PAYMENT_REPORTS, covers: ['Payment Reports'], summary: 'Generate, filter and export payment reports.', permissions: new Set([P.REPORTS_VIEW, P.REPORTS_PAYMENTS, P.REPORTS_EXPORT]) },
};

/** The permissions a set of roles, add-ons and custom-role permissions grants (a union). */
export function permissionsOf(roles: readonly Role[], addOns: readonly AddOn[] = [], extra: readonly Permission[] = []): Set<Permission> {
  const out = new Set<Permission>(extra);
  for (const r of roles) for (const p of ROLE_PRESETS[r].permissions) out.add(p);
  for (const a of addOns) for (const p of ADD_ONS[a].permissions) out.add(p);
  return out;
}
