import { Migration } from '@mikro-orm/migrations';

export class Migration20261124194141 extends Migration {

  override async up(): Promise<void> {
    // GIN indexes that lead with organization_id (btree_gin) and trigram contact search (pg_trgm).
    this.addSql(`create extension if not exists btree_gin;`);
    this.addSql(`create extension if not exists pg_trgm;`);
    // MikroORM does not diff native enum values: new permissions are added here by hand.
    this.addSql(`alter type "permission" add value if not exists 'MESSAGES_INGEST' after 'MESSAGES_SEND';`);
    this.addSql(`create type "opt_out_source" as enum ('MANUAL', 'KEYWORD', 'IMPORT');`);
    this.addSql(`create type "thread_status" as enum ('OPEN', 'SNOOZED', 'CLOSED');`);
    this.addSql(`create type "message_direction" as enum ('INBOUND', 'OUTBOUND');`);
    this.addSql(`create type "delivery_status" as enum ('RECEIVED', 'QUEUED', 'SENT', 'DELIVERED', 'FAILED');`);
    this.addSql(`create table "templates" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "name" varchar(100) not null, "body" text not null, "updated_at" timestamptz not null default now(), constraint "templates_pkey" primary key ("id"));`);
    this.addSql(`alter table "templates" add constraint "templates_organization_id_workspace_id_name_unique" unique ("organization_id", "workspace_id", "name");`);

    this.addSql(`create table "tags" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "name" varchar(50) not null, "color" varchar(20) null, constraint "tags_pkey" primary key ("id"));`);
    this.addSql(`alter table "tags" add constraint "tags_organization_id_workspace_id_name_unique" unique ("organization_id", "workspace_id", "name");`);

    this.addSql(`create table "opt_outs" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid null, "address" varchar(320) not null, "source" "opt_out_source" not null default 'MANUAL', "until" timestamptz null, "reason" text null, "created_by_id" uuid null, "reversed_at" timestamptz null, "reversed_by_id" uuid null, constraint "opt_outs_pkey" primary key ("id"));`);
    this.addSql(`create index "opt_outs_organization_id_workspace_id_created_at_id_index" on "opt_outs" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`create index "opt_outs_organization_id_address_workspace_id_index" on "opt_outs" ("organization_id", "address", "workspace_id");`);

    this.addSql(`create table "keyword_rules" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "name" varchar(100) not null, "phrases" text[] not null, "active" boolean not null default true, "created_by_id" uuid not null, constraint "keyword_rules_pkey" primary key ("id"));`);
    this.addSql(`create index "keyword_rules_organization_id_workspace_id_index" on "keyword_rules" ("organization_id", "workspace_id");`);

    this.addSql(`create table "contacts" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "first_name" varchar(100) null, "last_name" varchar(100) null, "phone" varchar(20) null, "email" varchar(320) null, "custom_fields" jsonb not null default '{}', "merged_into_id" uuid null, "updated_at" timestamptz not null default now(), constraint "contacts_pkey" primary key ("id"));`);
    this.addSql(`create index "contacts_search_index" on "contacts" using gin ("organization_id", "workspace_id", (lower(coalesce("first_name", '') || ' ' || coalesce("last_name", '') || ' ' || coalesce("phone", '') || ' ' || coalesce("email", ''))) gin_trgm_ops);`);
    this.addSql(`create index "contacts_organization_id_workspace_id_created_at_id_index" on "contacts" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`create index "contacts_organization_id_workspace_id_email_index" on "contacts" ("organization_id", "workspace_id", "email");`);
    this.addSql(`create index "contacts_organization_id_workspace_id_phone_index" on "contacts" ("organization_id", "workspace_id", "phone");`);

    this.addSql(`create table "threads" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "contact_id" uuid not null, "status" "thread_status" not null default 'OPEN', "snoozed_until" timestamptz null, "archived" boolean not null default false, "assignee_user_id" uuid null, "assignee_group_id" uuid null, "needs_response" boolean not null default false, "last_activity_at" timestamptz not null default now(), "last_inbound_at" timestamptz null, "first_response_at" timestamptz null, "campaign_id" uuid null, "last_message_preview" varchar(160) null, constraint "threads_pkey" primary key ("id"));`);
    this.addSql(`create index "threads_waiting_queue_index" on "threads" ("organization_id", "workspace_id", "assignee_group_id", "last_inbound_at", "id") where "assignee_user_id" is null and "status" = 'OPEN';`);
    this.addSql(`create index "threads_organization_id_contact_id_index" on "threads" ("organization_id", "contact_id");`);
    this.addSql(`create index "threads_organization_id_workspace_id_assignee_grou_b7e24_index" on "threads" ("organization_id", "workspace_id", "assignee_group_id", "last_activity_at", "id");`);
    this.addSql(`create index "threads_organization_id_workspace_id_assignee_user_99143_index" on "threads" ("organization_id", "workspace_id", "assignee_user_id", "last_activity_at", "id");`);
    this.addSql(`create index "threads_organization_id_workspace_id_status_last_a_2b9aa_index" on "threads" ("organization_id", "workspace_id", "status", "last_activity_at", "id");`);
    this.addSql(`create index "threads_organization_id_workspace_id_last_activity_at_id_index" on "threads" ("organization_id", "workspace_id", "last_activity_at", "id");`);

    this.addSql(`create table "thread_tags" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "thread_id" uuid not null, "tag_id" uuid not null, constraint "thread_tags_pkey" primary key ("id"));`);
    this.addSql(`create index "thread_tags_organization_id_tag_id_thread_id_index" on "thread_tags" ("organization_id", "tag_id", "thread_id");`);
    this.addSql(`alter table "thread_tags" add constraint "thread_tags_organization_id_thread_id_tag_id_unique" unique ("organization_id", "thread_id", "tag_id");`);

    this.addSql(`create table "read_cursors" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "user_id" uuid not null, "thread_id" uuid not null, "read_at" timestamptz not null, constraint "read_cursors_pkey" primary key ("id"));`);
    this.addSql(`alter table "read_cursors" add constraint "read_cursors_organization_id_user_id_thread_id_unique" unique ("organization_id", "user_id", "thread_id");`);

    this.addSql(`create table "notes" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "thread_id" uuid not null, "author_id" uuid not null, "body" text not null, constraint "notes_pkey" primary key ("id"));`);
    this.addSql(`create index "notes_organization_id_thread_id_created_at_index" on "notes" ("organization_id", "thread_id", "created_at");`);

    this.addSql(`create table "messages" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "thread_id" uuid not null, "direction" "message_direction" not null, "body" text not null, "status" "delivery_status" not null default 'QUEUED', "status_updated_at" timestamptz null, "error" text null, "author_id" uuid null, "automated" boolean not null default false, "idempotency_key" varchar(200) null, "provider_message_id" varchar(200) null, "external_id" varchar(200) null, "body_tsv" tsvector generated always as (to_tsvector('simple'::regconfig, body)) stored null, constraint "messages_pkey" primary key ("id"));`);
    this.addSql(`create index "messages_body_tsv_index" on "messages" using gin ("organization_id", "body_tsv");`);
    this.addSql(`create index "messages_organization_id_provider_message_id_index" on "messages" ("organization_id", "provider_message_id");`);
    this.addSql(`create index "messages_organization_id_thread_id_created_at_id_index" on "messages" ("organization_id", "thread_id", "created_at", "id");`);
    this.addSql(`alter table "messages" add constraint "messages_organization_id_workspace_id_external_id_unique" unique ("organization_id", "workspace_id", "external_id");`);
    this.addSql(`alter table "messages" add constraint "messages_organization_id_idempotency_key_unique" unique ("organization_id", "idempotency_key");`);

    this.addSql(`create table "keyword_alerts" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "rule_id" uuid not null, "message_id" uuid not null, "thread_id" uuid not null, "matched" varchar(200) not null, constraint "keyword_alerts_pkey" primary key ("id"));`);
    this.addSql(`create index "keyword_alerts_organization_id_workspace_id_created_at_id_index" on "keyword_alerts" ("organization_id", "workspace_id", "created_at", "id");`);

    this.addSql(`create table "assignment_events" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "thread_id" uuid not null, "kind" varchar(20) not null, "actor_id" uuid null, "from_user_id" uuid null, "from_group_id" uuid null, "to_user_id" uuid null, "to_group_id" uuid null, "reason" text null, constraint "assignment_events_pkey" primary key ("id"));`);
    this.addSql(`create index "assignment_events_organization_id_thread_id_created_at_index" on "assignment_events" ("organization_id", "thread_id", "created_at");`);

    this.addSql(`create table "workspace_settings" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "time_zone" varchar(64) not null default 'UTC', "weekly_hours" jsonb null, "auto_response" text null, "greeting" text null, "opt_out_reply" text null default 'You have been unsubscribed and will receive no more messages. Reply START to resubscribe.', "opt_in_reply" text null default 'You are subscribed again. Reply STOP to unsubscribe.', "webhook_secret" varchar(100) null, "updated_at" timestamptz not null default now(), constraint "workspace_settings_pkey" primary key ("id"));`);
    this.addSql(`alter table "workspace_settings" add constraint "workspace_settings_organization_id_workspace_id_unique" unique ("organization_id", "workspace_id");`);

    this.addSql(`alter table "templates" add constraint "templates_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "templates" add constraint "templates_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "tags" add constraint "tags_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "tags" add constraint "tags_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "opt_outs" add constraint "opt_outs_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "opt_outs" add constraint "opt_outs_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "keyword_rules" add constraint "keyword_rules_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "keyword_rules" add constraint "keyword_rules_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "contacts" add constraint "contacts_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "contacts" add constraint "contacts_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "threads" add constraint "threads_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "threads" add constraint "threads_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "threads" add constraint "threads_contact_id_foreign" foreign key ("contact_id") references "contacts" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "threads" add constraint "threads_assignee_user_id_foreign" foreign key ("assignee_user_id") references "users" ("id") on update cascade on delete set null;`);
    this.addSql(`alter table "threads" add constraint "threads_assignee_group_id_foreign" foreign key ("assignee_group_id") references "agent_groups" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "thread_tags" add constraint "thread_tags_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "thread_tags" add constraint "thread_tags_thread_id_foreign" foreign key ("thread_id") references "threads" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "thread_tags" add constraint "thread_tags_tag_id_foreign" foreign key ("tag_id") references "tags" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "read_cursors" add constraint "read_cursors_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "read_cursors" add constraint "read_cursors_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "read_cursors" add constraint "read_cursors_thread_id_foreign" foreign key ("thread_id") references "threads" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "notes" add constraint "notes_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "notes" add constraint "notes_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "notes" add constraint "notes_thread_id_foreign" foreign key ("thread_id") references "threads" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "messages" add constraint "messages_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "messages" add constraint "messages_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "messages" add constraint "messages_thread_id_foreign" foreign key ("thread_id") references "threads" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "keyword_alerts" add constraint "keyword_alerts_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "keyword_alerts" add constraint "keyword_alerts_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "keyword_alerts" add constraint "keyword_alerts_rule_id_foreign" foreign key ("rule_id") references "keyword_rules" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "keyword_alerts" add constraint "keyword_alerts_message_id_foreign" foreign key ("message_id") references "messages" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "keyword_alerts" add constraint "keyword_alerts_thread_id_foreign" foreign key ("thread_id") references "threads" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "assignment_events" add constraint "assignment_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "assignment_events" add constraint "assignment_events_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "assignment_events" add constraint "assignment_events_thread_id_foreign" foreign key ("thread_id") references "threads" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "workspace_settings" add constraint "workspace_settings_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "workspace_settings" add constraint "workspace_settings_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "thread_tags" drop constraint "thread_tags_tag_id_foreign";`);

    this.addSql(`alter table "keyword_alerts" drop constraint "keyword_alerts_rule_id_foreign";`);

    this.addSql(`alter table "threads" drop constraint "threads_contact_id_foreign";`);

    this.addSql(`alter table "thread_tags" drop constraint "thread_tags_thread_id_foreign";`);

    this.addSql(`alter table "read_cursors" drop constraint "read_cursors_thread_id_foreign";`);

    this.addSql(`alter table "notes" drop constraint "notes_thread_id_foreign";`);

    this.addSql(`alter table "messages" drop constraint "messages_thread_id_foreign";`);

    this.addSql(`alter table "keyword_alerts" drop constraint "keyword_alerts_thread_id_foreign";`);

    this.addSql(`alter table "assignment_events" drop constraint "assignment_events_thread_id_foreign";`);

    this.addSql(`alter table "keyword_alerts" drop constraint "keyword_alerts_message_id_foreign";`);

    this.addSql(`drop table if exists "templates" cascade;`);

    this.addSql(`drop table if exists "tags" cascade;`);

    this.addSql(`drop table if exists "opt_outs" cascade;`);

    this.addSql(`drop table if exists "keyword_rules" cascade;`);

    this.addSql(`drop table if exists "contacts" cascade;`);

    this.addSql(`drop table if exists "threads" cascade;`);

    this.addSql(`drop table if exists "thread_tags" cascade;`);

    this.addSql(`drop table if exists "read_cursors" cascade;`);

    this.addSql(`drop table if exists "notes" cascade;`);

    this.addSql(`drop table if exists "messages" cascade;`);

    this.addSql(`drop table if exists "keyword_alerts" cascade;`);

    this.addSql(`drop table if exists "assignment_events" cascade;`);

    this.addSql(`drop table if exists "workspace_settings" cascade;`);

    this.addSql(`drop type "opt_out_source";`);
    this.addSql(`drop type "thread_status";`);
    this.addSql(`drop type "message_direction";`);
    this.addSql(`drop type "delivery_status";`);
  }

}
