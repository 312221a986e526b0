import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-reports) A thread runs over one channel ("sms", "whatsapp"...; PRODUCT.md: one contact in one workspace
 * over one channel): threads.channel, 'sms' for every existing thread. An inbound message joins the contact's
 * open thread on its channel; the contact's threads are few, so the (organization, contact) lookup needs no new
 * index. The conversation rollups gain the channel in their key (existing rows: 'sms'), for CHANNEL reports.
 */
export class Migration20261201033000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "threads" add column "channel" varchar(32) not null default 'sms';`);
    this.addSql(`alter table "conversation_rollups" add column "channel" varchar(32) not null default 'sms';`);
    this.addSql(`alter table "conversation_rollups" drop constraint "conversation_rollups_pkey";`);
    this.addSql(`alter table "conversation_rollups" add primary key ("organization_id", "workspace_id", "hour", "agent_id", "group_id", "campaign_id", "tag_id", "channel");`);
    this.addSql(`alter table "conversation_rollups_daily" add column "channel" varchar(32) not null default 'sms';`);
    this.addSql(`alter table "conversation_rollups_daily" drop constraint "conversation_rollups_daily_pkey";`);
    this.addSql(`alter table "conversation_rollups_daily" add primary key ("organization_id", "workspace_id", "tag_id", "day", "agent_id", "group_id", "campaign_id", "channel");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "conversation_rollups_daily" drop constraint "conversation_rollups_daily_pkey";`);
    this.addSql(`alter table "conversation_rollups_daily" drop column "channel";`);
    this.addSql(`alter table "conversation_rollups_daily" add primary key ("organization_id", "workspace_id", "tag_id", "day", "agent_id", "group_id", "campaign_id");`);
    this.addSql(`alter table "conversation_rollups" drop constraint "conversation_rollups_pkey";`);
    this.addSql(`alter table "conversation_rollups" drop column "channel";`);
    this.addSql(`alter table "conversation_rollups" add primary key ("organization_id", "workspace_id", "hour", "agent_id", "group_id", "campaign_id", "tag_id");`);
    this.addSql(`alter table "threads" drop column "channel";`);
  }
}
