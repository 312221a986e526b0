import { Migration } from '@mikro-orm/migrations';

export class Migration20261124190314 extends Migration {

  override async up(): Promise<void> {
    // Rate-limit windows shared by every server process (see modules/identity/throttle.ts); not an entity.
    this.addSql(`create table "throttle_windows" ("key" text not null, "window_start" timestamptz not null, "hits" int not null, constraint "throttle_windows_pkey" primary key ("key"));`);
    this.addSql(`create type "permission" as enum ('ORGANIZATION_READ', 'ORGANIZATION_SETTINGS_MANAGE', 'WORKSPACES_CREATE', 'OWNERS_MANAGE', 'CUSTOM_ROLES_MANAGE', 'ORGANIZATION_OPT_OUTS_MANAGE', 'ORGANIZATION_USAGE_VIEW', 'ORGANIZATION_ANALYTICS_VIEW', 'EXPORTS_CONFIGURE', 'BILLING_VIEW', 'DOMAINS_MANAGE', 'WORKSPACE_READ', 'WORKSPACE_SETTINGS_MANAGE', 'PHONE_NUMBERS_MANAGE', 'INTEGRATIONS_MANAGE', 'SHORTCODE_MANAGE', 'USAGE_VIEW', 'API_KEYS_MANAGE', 'WEBHOOKS_MANAGE', 'AUDIT_LOG_READ', 'USERS_READ', 'USERS_INVITE', 'USERS_MANAGE', 'AGENT_GROUPS_MANAGE', 'AVAILABILITY_MANAGE', 'AGENT_DASHBOARD_VIEW', 'UNREAD_BADGES_WHEN_OFFLINE', 'THREADS_READ', 'THREADS_READ_ALL', 'THREADS_SEARCH', 'THREADS_ARCHIVE', 'THREADS_CLOSE', 'THREADS_MARK_NO_RESPONSE', 'THREADS_ASSIGN', 'THREADS_TRANSFER', 'THREADS_SELF_ASSIGN', 'THREADS_REQUEST', 'MESSAGES_READ_BODY', 'MESSAGES_SEND', 'NOTES_READ', 'NOTES_WRITE', 'TAGS_APPLY', 'TAGS_MANAGE', 'TEMPLATES_READ', 'TEMPLATES_MANAGE', 'OFFICE_HOURS_MANAGE', 'AUTO_RESPONSES_MANAGE', 'KEYWORD_RULES_MANAGE', 'KEYWORD_ALERTS_RECEIVE', 'CONTACTS_READ', 'CONTACTS_CREATE', 'CONTACTS_EDIT', 'CONTACTS_IMPORT', 'OPT_OUTS_READ', 'OPT_OUTS_APPLY', 'OPT_OUTS_REVERSE', 'OPT_OUTS_MANAGE', 'CAMPAIGNS_READ', 'CAMPAIGNS_MANAGE', 'CAMPAIGNS_START', 'CAMPAIGN_GROUPS_MANAGE', 'CAMPAIGN_GROUPS_ADD_CONTACTS', 'ORDERS_READ', 'ORDERS_CREATE', 'ORDERS_CREATE_INDEPENDENT', 'ORDERS_MANAGE', 'ORDERS_COMMENT', 'PAYMENTS_RECONCILE', 'REPORTS_VIEW', 'REPORTS_CONVERSATIONS', 'REPORTS_PAYMENTS', 'REPORTS_EXPORT');`);
    this.addSql(`create type "user_status" as enum ('INVITED', 'ACTIVE', 'DEACTIVATED');`);
    this.addSql(`create type "availability" as enum ('ONLINE', 'AWAY', 'OFFLINE');`);
    this.addSql(`create type "role" as enum ('OWNER', 'ADMIN', 'SUPERVISOR', 'AGENT', 'AUDITOR', 'MARKETER', 'VIEWER', 'STAKEHOLDER', 'ORDER_ADMIN');`);
    this.addSql(`create type "add_on" as enum ('SELF_ASSIGN', 'TRANSFER', 'INDEPENDENT_ORDERS', 'PAYMENT_RECONCILE', 'CONVERSATION_REPORTS', 'PAYMENT_REPORTS');`);
    this.addSql(`create table "organizations" ("id" uuid not null, "created_at" timestamptz not null default now(), "name" varchar(200) not null, constraint "organizations_pkey" primary key ("id"));`);

    this.addSql(`create table "custom_roles" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "name" varchar(100) not null, "permissions" "permission"[] not null, constraint "custom_roles_pkey" primary key ("id"));`);
    this.addSql(`alter table "custom_roles" add constraint "custom_roles_organization_id_name_unique" unique ("organization_id", "name");`);

    this.addSql(`create table "mail_outbox" ("id" uuid not null, "organization_id" uuid null, "to" varchar(320) not null, "subject" text not null, "body" text not null, "created_at" timestamptz not null default now(), "sent_at" timestamptz null, constraint "mail_outbox_pkey" primary key ("id"));`);
    this.addSql(`create index "mail_outbox_created_at_index" on "mail_outbox" ("created_at");`);

    this.addSql(`create table "users" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "name" varchar(200) not null, "email" varchar(320) not null, "password_hash" text null, "status" "user_status" not null default 'INVITED', "availability" "availability" not null default 'OFFLINE', "deactivated_at" timestamptz null, "password_changed_at" timestamptz null, constraint "users_pkey" primary key ("id"));`);
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);
    this.addSql(`create index "users_organization_id_status_index" on "users" ("organization_id", "status");`);

    this.addSql(`create table "sessions" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "user_id" uuid not null, "token_hash" varchar(64) not null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, constraint "sessions_pkey" primary key ("id"));`);
    this.addSql(`alter table "sessions" add constraint "sessions_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "sessions_organization_id_user_id_index" on "sessions" ("organization_id", "user_id");`);

    this.addSql(`create table "workspaces" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "name" varchar(200) not null, "parent_id" uuid null, "ancestor_ids" uuid[] not null default '{}', constraint "workspaces_pkey" primary key ("id"));`);
    this.addSql(`create index "workspaces_organization_id_parent_id_index" on "workspaces" ("organization_id", "parent_id");`);

    this.addSql(`create table "memberships" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "user_id" uuid not null, "workspace_id" uuid null, "roles" "role"[] not null, "add_ons" "add_on"[] not null, "custom_role_ids" uuid[] not null default '{}', "updated_at" timestamptz not null default now(), constraint "memberships_pkey" primary key ("id"));`);
    this.addSql(`create index "memberships_organization_id_workspace_id_index" on "memberships" ("organization_id", "workspace_id");`);
    this.addSql(`alter table "memberships" add constraint "memberships_organization_id_user_id_workspace_id_unique" unique nulls not distinct ("organization_id", "user_id", "workspace_id");`);

    this.addSql(`create table "invitations" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "email" varchar(320) not null, "user_id" uuid not null, "workspace_id" uuid null, "roles" "role"[] not null, "add_ons" "add_on"[] not null, "invited_by_id" uuid not null, "token_hash" varchar(64) not null, "expires_at" timestamptz not null, "accepted_at" timestamptz null, "revoked_at" timestamptz null, constraint "invitations_pkey" primary key ("id"));`);
    this.addSql(`alter table "invitations" add constraint "invitations_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "invitations_organization_id_workspace_id_index" on "invitations" ("organization_id", "workspace_id");`);
    this.addSql(`create index "invitations_organization_id_email_index" on "invitations" ("organization_id", "email");`);

    this.addSql(`create table "audit_log" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid null, "actor_user_id" uuid null, "actor_api_key_id" uuid null, "action" varchar(100) not null, "target_type" varchar(50) not null, "target_id" uuid not null, "before" jsonb null, "after" jsonb null, constraint "audit_log_pkey" primary key ("id"));`);
    this.addSql(`create index "audit_log_organization_id_target_type_target_id_index" on "audit_log" ("organization_id", "target_type", "target_id");`);
    this.addSql(`create index "audit_log_organization_id_workspace_id_created_at_index" on "audit_log" ("organization_id", "workspace_id", "created_at");`);
    this.addSql(`create index "audit_log_organization_id_created_at_id_index" on "audit_log" ("organization_id", "created_at", "id");`);

    this.addSql(`create table "api_keys" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "name" varchar(100) not null, "workspace_id" uuid not null, "created_by_id" uuid not null, "prefix" varchar(16) not null, "token_hash" varchar(64) not null, "permissions" "permission"[] not null, "revoked_at" timestamptz null, "last_used_at" timestamptz null, constraint "api_keys_pkey" primary key ("id"));`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "api_keys_organization_id_workspace_id_index" on "api_keys" ("organization_id", "workspace_id");`);

    this.addSql(`create table "agent_groups" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "name" varchar(100) not null, "workspace_id" uuid not null, constraint "agent_groups_pkey" primary key ("id"));`);
    this.addSql(`alter table "agent_groups" add constraint "agent_groups_organization_id_workspace_id_name_unique" unique ("organization_id", "workspace_id", "name");`);

    this.addSql(`create table "agent_group_members" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "group_id" uuid not null, "user_id" uuid not null, constraint "agent_group_members_pkey" primary key ("id"));`);
    this.addSql(`create index "agent_group_members_organization_id_user_id_index" on "agent_group_members" ("organization_id", "user_id");`);
    this.addSql(`alter table "agent_group_members" add constraint "agent_group_members_organization_id_group_id_user_id_unique" unique ("organization_id", "group_id", "user_id");`);

    this.addSql(`alter table "custom_roles" add constraint "custom_roles_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "users" add constraint "users_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sessions" add constraint "sessions_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "workspaces" add constraint "workspaces_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "workspaces" add constraint "workspaces_parent_id_foreign" foreign key ("parent_id") references "workspaces" ("id") on update cascade on delete restrict;`);

    this.addSql(`alter table "memberships" add constraint "memberships_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "memberships" add constraint "memberships_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "memberships" add constraint "memberships_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "invitations" add constraint "invitations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "invitations" add constraint "invitations_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "invitations" add constraint "invitations_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "invitations" add constraint "invitations_invited_by_id_foreign" foreign key ("invited_by_id") references "users" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "audit_log" add constraint "audit_log_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "audit_log" add constraint "audit_log_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "api_keys" add constraint "api_keys_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_created_by_id_foreign" foreign key ("created_by_id") references "users" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "agent_groups" add constraint "agent_groups_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "agent_groups" add constraint "agent_groups_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "agent_group_members" add constraint "agent_group_members_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "agent_group_members" add constraint "agent_group_members_group_id_foreign" foreign key ("group_id") references "agent_groups" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "agent_group_members" add constraint "agent_group_members_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "custom_roles" drop constraint "custom_roles_organization_id_foreign";`);

    this.addSql(`alter table "users" drop constraint "users_organization_id_foreign";`);

    this.addSql(`alter table "sessions" drop constraint "sessions_organization_id_foreign";`);

    this.addSql(`alter table "workspaces" drop constraint "workspaces_organization_id_foreign";`);

    this.addSql(`alter table "memberships" drop constraint "memberships_organization_id_foreign";`);

    this.addSql(`alter table "invitations" drop constraint "invitations_organization_id_foreign";`);

    this.addSql(`alter table "audit_log" drop constraint "audit_log_organization_id_foreign";`);

    this.addSql(`alter table "api_keys" drop constraint "api_keys_organization_id_foreign";`);

    this.addSql(`alter table "agent_groups" drop constraint "agent_groups_organization_id_foreign";`);

    this.addSql(`alter table "agent_group_members" drop constraint "agent_group_members_organization_id_foreign";`);

    this.addSql(`alter table "sessions" drop constraint "sessions_user_id_foreign";`);

    this.addSql(`alter table "memberships" drop constraint "memberships_user_id_foreign";`);

    this.addSql(`alter table "invitations" drop constraint "invitations_user_id_foreign";`);

    this.addSql(`alter table "invitations" drop constraint "invitations_invited_by_id_foreign";`);

    this.addSql(`alter table "api_keys" drop constraint "api_keys_created_by_id_foreign";`);

    this.addSql(`alter table "agent_group_members" drop constraint "agent_group_members_user_id_foreign";`);

    this.addSql(`alter table "workspaces" drop constraint "workspaces_parent_id_foreign";`);

    this.addSql(`alter table "memberships" drop constraint "memberships_workspace_id_foreign";`);

    this.addSql(`alter table "invitations" drop constraint "invitations_workspace_id_foreign";`);

    this.addSql(`alter table "audit_log" drop constraint "audit_log_workspace_id_foreign";`);

    this.addSql(`alter table "api_keys" drop constraint "api_keys_workspace_id_foreign";`);

    this.addSql(`alter table "agent_groups" drop constraint "agent_groups_workspace_id_foreign";`);

    this.addSql(`alter table "agent_group_members" drop constraint "agent_group_members_group_id_foreign";`);

    this.addSql(`drop table if exists "organizations" cascade;`);

    this.addSql(`drop table if exists "custom_roles" cascade;`);

    this.addSql(`drop table if exists "mail_outbox" cascade;`);

    this.addSql(`drop table if exists "users" cascade;`);

    this.addSql(`drop table if exists "sessions" cascade;`);

    this.addSql(`drop table if exists "workspaces" cascade;`);

    this.addSql(`drop table if exists "memberships" cascade;`);

    this.addSql(`drop table if exists "invitations" cascade;`);

    this.addSql(`drop table if exists "audit_log" cascade;`);

    this.addSql(`drop table if exists "api_keys" cascade;`);

    this.addSql(`drop table if exists "agent_groups" cascade;`);

    this.addSql(`drop table if exists "agent_group_members" cascade;`);

    this.addSql(`drop table if exists "throttle_windows";`);
    this.addSql(`drop type "permission";`);
    this.addSql(`drop type "user_status";`);
    this.addSql(`drop type "availability";`);
    this.addSql(`drop type "role";`);
    this.addSql(`drop type "add_on";`);
  }

}
