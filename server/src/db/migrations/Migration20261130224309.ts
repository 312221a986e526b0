import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-p2p) Peer-to-peer campaigns and shortcode keywords (#18 items 4 and 6):
 * - campaign_texter_invites: texter links, the SHA-256 of the secret only (the plain campaigns.texter_invite_token
 *   column it replaces is dropped); campaign_texters: who joined which campaign.
 * - shortcode_keywords, shortcode_subscriptions, shortcode_keyword_hits (one row per inbound keyword message:
 *   the worker's idempotency), and the worker's cursor over the event log, a row of report_rollup_cursors.
 */
export class Migration20261130224309 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "shortcode_keyword_hits" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "keyword_id" uuid not null, "inbound_message_id" uuid not null, "thread_id" uuid not null, "contact_id" uuid null, "outcome" varchar(20) not null, "reply_message_id" uuid null, "reply_sent_at" timestamptz null, constraint "shortcode_keyword_hits_pkey" primary key ("id"));`);
    this.addSql(`create index "shortcode_keyword_hits_organization_id_keyword_id__631c2_index" on "shortcode_keyword_hits" ("organization_id", "keyword_id", "created_at");`);
    this.addSql(`alter table "shortcode_keyword_hits" add constraint "shortcode_keyword_hits_organization_id_inbound_me_a0364_unique" unique ("organization_id", "inbound_message_id");`);

    this.addSql(`create table "shortcode_keywords" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "keyword" varchar(30) not null, "group_id" uuid not null, "auto_reply" text not null, "active" boolean not null default true, "created_by_id" uuid not null, "updated_at" timestamptz not null default now(), constraint "shortcode_keywords_pkey" primary key ("id"));`);
    this.addSql(`alter table "shortcode_keywords" add constraint "shortcode_keywords_organization_id_workspace_id_keyword_unique" unique ("organization_id", "workspace_id", "keyword");`);

    this.addSql(`create table "shortcode_subscriptions" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "keyword_id" uuid not null, "contact_id" uuid not null, "workspace_id" uuid not null, "source" varchar(10) not null, "inbound_message_id" uuid null, "opted_out_at" timestamptz null, "opted_out_by_id" uuid null, constraint "shortcode_subscriptions_pkey" primary key ("id"));`);
    this.addSql(`create index "shortcode_subscriptions_organization_id_keyword_id_cd1bc_index" on "shortcode_subscriptions" ("organization_id", "keyword_id", "created_at", "id");`);
    this.addSql(`alter table "shortcode_subscriptions" add constraint "shortcode_subscriptions_organization_id_keyword_i_e8272_unique" unique ("organization_id", "keyword_id", "contact_id");`);

    this.addSql(`create table "campaign_texter_invites" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "campaign_id" uuid not null, "workspace_id" uuid not null, "token_hash" varchar(64) not null, "created_by_id" uuid not null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, "revoked_by_id" uuid null, constraint "campaign_texter_invites_pkey" primary key ("id"));`);
    this.addSql(`create index "campaign_texter_invites_organization_id_campaign_i_5dd81_index" on "campaign_texter_invites" ("organization_id", "campaign_id", "created_at");`);
    this.addSql(`alter table "campaign_texter_invites" add constraint "campaign_texter_invites_organization_id_token_hash_unique" unique ("organization_id", "token_hash");`);

    this.addSql(`create table "campaign_texters" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "campaign_id" uuid not null, "workspace_id" uuid not null, "user_id" uuid not null, "invite_id" uuid not null, constraint "campaign_texters_pkey" primary key ("id"));`);
    this.addSql(`create index "campaign_texters_organization_id_user_id_created_at_index" on "campaign_texters" ("organization_id", "user_id", "created_at");`);
    this.addSql(`alter table "campaign_texters" add constraint "campaign_texters_organization_id_campaign_id_user_id_unique" unique ("organization_id", "campaign_id", "user_id");`);

    this.addSql(`alter table "shortcode_keyword_hits" add constraint "shortcode_keyword_hits_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "shortcode_keywords" add constraint "shortcode_keywords_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "shortcode_keywords" add constraint "shortcode_keywords_group_id_foreign" foreign key ("group_id") references "campaign_groups" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "shortcode_subscriptions" add constraint "shortcode_subscriptions_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "shortcode_subscriptions" add constraint "shortcode_subscriptions_keyword_id_foreign" foreign key ("keyword_id") references "shortcode_keywords" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "shortcode_subscriptions" add constraint "shortcode_subscriptions_contact_id_foreign" foreign key ("contact_id") references "contacts" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "campaign_texter_invites" add constraint "campaign_texter_invites_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "campaign_texter_invites" add constraint "campaign_texter_invites_campaign_id_foreign" foreign key ("campaign_id") references "campaigns" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "campaign_texters" add constraint "campaign_texters_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "campaign_texters" add constraint "campaign_texters_campaign_id_foreign" foreign key ("campaign_id") references "campaigns" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "campaigns" drop constraint "campaigns_organization_id_texter_invite_token_unique";`);
    this.addSql(`alter table "campaigns" drop column "texter_invite_token";`);
    // The worker starts at the end of the log as it stands: no keyword existed before this migration, so older
    // inbound messages have nothing to apply (and a large log is not re-read at the first start).
    this.addSql(`insert into "report_rollup_cursors" ("name", "xid", "event_id")
      select 'shortcode-keywords', coalesce((select xid from "events" order by xid desc, id desc limit 1), '0'::xid8), coalesce((select id from "events" order by xid desc, id desc limit 1), 0)
      on conflict do nothing;`);
  }

  override async down(): Promise<void> {
    this.addSql(`delete from "report_rollup_cursors" where "name" = 'shortcode-keywords';`);
    this.addSql(`alter table "shortcode_subscriptions" drop constraint "shortcode_subscriptions_keyword_id_foreign";`);

    this.addSql(`drop table if exists "shortcode_keyword_hits" cascade;`);

    this.addSql(`drop table if exists "shortcode_keywords" cascade;`);

    this.addSql(`drop table if exists "shortcode_subscriptions" cascade;`);

    this.addSql(`drop table if exists "campaign_texter_invites" cascade;`);

    this.addSql(`drop table if exists "campaign_texters" cascade;`);

    this.addSql(`alter table "campaigns" add column "texter_invite_token" varchar(64) null;`);
    this.addSql(`alter table "campaigns" add constraint "campaigns_organization_id_texter_invite_token_unique" unique ("organization_id", "texter_invite_token");`);
  }

}
