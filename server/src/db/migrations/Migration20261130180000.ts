import { Migration } from '@mikro-orm/migrations';

/** (wt-campaigns) Campaign groups and their members, campaigns, and the recipients a started campaign materialises. */

export class Migration20261130180000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create type "campaign_kind" as enum ('BROADCAST', 'PEER_TO_PEER');`);
    this.addSql(`create type "campaign_status" as enum ('DRAFT', 'SCHEDULED', 'RUNNING', 'PAUSED', 'COMPLETED', 'CANCELLED');`);
    this.addSql(`create type "campaign_recipient_status" as enum ('PENDING', 'SENDING', 'ASSIGNED', 'SENT', 'FAILED', 'SKIPPED');`);
    this.addSql(`create table "campaign_groups" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "name" varchar(100) not null, constraint "campaign_groups_pkey" primary key ("id"));`);
    this.addSql(`create index "campaign_groups_organization_id_workspace_id_creat_8a6fe_index" on "campaign_groups" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`alter table "campaign_groups" add constraint "campaign_groups_organization_id_workspace_id_name_unique" unique ("organization_id", "workspace_id", "name");`);

    this.addSql(`create table "campaign_group_members" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "group_id" uuid not null, "contact_id" uuid not null, constraint "campaign_group_members_pkey" primary key ("id"));`);
    this.addSql(`create index "campaign_group_members_organization_id_contact_id_index" on "campaign_group_members" ("organization_id", "contact_id");`);
    this.addSql(`create index "campaign_group_members_organization_id_group_id_cr_3b1ae_index" on "campaign_group_members" ("organization_id", "group_id", "created_at", "id");`);
    this.addSql(`alter table "campaign_group_members" add constraint "campaign_group_members_organization_id_group_id_c_42b98_unique" unique ("organization_id", "group_id", "contact_id");`);

    this.addSql(`create table "campaigns" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "name" varchar(100) not null, "description" text null, "kind" "campaign_kind" not null default 'BROADCAST', "message_template" text not null, "response_scripts" jsonb not null default '[]', "target_group_ids" text[] not null default '{}', "contact_filter" jsonb null, "sender_number" varchar(20) null, "sender_name" varchar(100) null, "start_at" timestamptz null, "quiet_hours_start" varchar(5) null, "quiet_hours_end" varchar(5) null, "status" "campaign_status" not null default 'DRAFT', "max_threads_per_request" int not null default 50, "texter_invite_token" varchar(64) null, "started_at" timestamptz null, "completed_at" timestamptz null, "materialized_at" timestamptz null, "created_by_id" uuid not null, "updated_at" timestamptz not null default now(), constraint "campaigns_pkey" primary key ("id"));`);
    this.addSql(`create index "campaigns_organization_id_status_index" on "campaigns" ("organization_id", "status");`);
    this.addSql(`create index "campaigns_organization_id_workspace_id_created_at_id_index" on "campaigns" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`alter table "campaigns" add constraint "campaigns_organization_id_texter_invite_token_unique" unique ("organization_id", "texter_invite_token");`);

    this.addSql(`create table "campaign_recipients" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "campaign_id" uuid not null, "workspace_id" uuid not null, "contact_id" uuid not null, "phone" varchar(20) not null, "status" "campaign_recipient_status" not null default 'PENDING', "skip_reason" varchar(40) null, "message_id" uuid null, "thread_id" uuid null, "texter_id" uuid null, "claimed_at" timestamptz null, "sent_at" timestamptz null, constraint "campaign_recipients_pkey" primary key ("id"));`);
    this.addSql(`create index "campaign_recipients_organization_id_campaign_id_texter_id_index" on "campaign_recipients" ("organization_id", "campaign_id", "texter_id");`);
    this.addSql(`create index "campaign_recipients_organization_id_campaign_id_status_index" on "campaign_recipients" ("organization_id", "campaign_id", "status");`);
    this.addSql(`alter table "campaign_recipients" add constraint "campaign_recipients_organization_id_campaign_id_phone_unique" unique ("organization_id", "campaign_id", "phone");`);

    this.addSql(`alter table "campaign_groups" add constraint "campaign_groups_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "campaign_groups" add constraint "campaign_groups_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "campaign_group_members" add constraint "campaign_group_members_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "campaign_group_members" add constraint "campaign_group_members_group_id_foreign" foreign key ("group_id") references "campaign_groups" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "campaign_group_members" add constraint "campaign_group_members_contact_id_foreign" foreign key ("contact_id") references "contacts" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "campaigns" add constraint "campaigns_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "campaigns" add constraint "campaigns_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "campaign_recipients" add constraint "campaign_recipients_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "campaign_recipients" add constraint "campaign_recipients_campaign_id_foreign" foreign key ("campaign_id") references "campaigns" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "campaign_group_members" drop constraint "campaign_group_members_group_id_foreign";`);

    this.addSql(`alter table "campaign_recipients" drop constraint "campaign_recipients_campaign_id_foreign";`);

    this.addSql(`drop table if exists "campaign_groups" cascade;`);

    this.addSql(`drop table if exists "campaign_group_members" cascade;`);

    this.addSql(`drop table if exists "campaigns" cascade;`);

    this.addSql(`drop table if exists "campaign_recipients" cascade;`);

    this.addSql(`drop type "campaign_kind";`);
    this.addSql(`drop type "campaign_status";`);
    this.addSql(`drop type "campaign_recipient_status";`);
  }

}
