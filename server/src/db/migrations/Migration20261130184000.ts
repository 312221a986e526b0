import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-reports) Reports from rollups, and the audit of reads.
 *
 * - report_rollup_cursors: where each rollup worker is in the event log; moved in the same transaction as
 *   the counters it covers, so a crash neither counts an event twice nor skips one.
 * - report_thread_states: what the worker remembers per thread between events (when it opened, since when an
 *   inbound message waits for its first reply) to measure first response and resolution times.
 * - conversation_rollups: counters per workspace, local hour (wall clock in the workspace's time zone), agent,
 *   agent group, campaign and tag; tag_id = the nil uuid is the row over all tags, each tag gets rows of its
 *   own. Durations keep a count, a sum and a histogram (report-histogram.ts) for medians and p90s.
 * - usage_active_users: who was active in a workspace on a local day (a set, not a counter).
 * - read_audit: who read what (entity ReadAuditEntry).
 */
export class Migration20261130184000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "report_rollup_cursors" ("name" varchar(40) primary key, "xid" xid8 not null, "event_id" bigint not null, "updated_at" timestamptz not null default now());`);
    this.addSql(`insert into "report_rollup_cursors" ("name", "xid", "event_id") values ('conversations', '0', 0);`);
    this.addSql(`create table "report_thread_states" (
      "organization_id" uuid not null, "thread_id" uuid not null, "status" varchar(20) not null, "needs_response" boolean not null,
      "open_since" timestamptz null, "awaiting_since" timestamptz null, "first_responded" boolean not null default false, "tag_ids" uuid[] not null default '{}',
      primary key ("organization_id", "thread_id"));`);
    this.addSql(`create table "conversation_rollups" (
      "organization_id" uuid not null, "workspace_id" uuid not null, "hour" timestamp not null,
      "agent_id" uuid not null, "group_id" uuid not null, "campaign_id" uuid not null, "tag_id" uuid not null,
      "threads_opened" int not null default 0, "messages_in" int not null default 0, "messages_out" int not null default 0,
      "segments_out" int not null default 0, "delivered" int not null default 0, "failed" int not null default 0,
      "closed" int not null default 0, "transferred" int not null default 0, "no_response" int not null default 0,
      "first_response_count" int not null default 0, "first_response_ms" bigint not null default 0, "first_response_hist" int[] not null,
      "resolution_count" int not null default 0, "resolution_ms" bigint not null default 0, "resolution_hist" int[] not null,
      primary key ("organization_id", "workspace_id", "hour", "agent_id", "group_id", "campaign_id", "tag_id"));`);
    this.addSql(`create table "usage_active_users" ("organization_id" uuid not null, "workspace_id" uuid not null, "day" date not null, "user_id" uuid not null,
      primary key ("organization_id", "workspace_id", "day", "user_id"));`);

    this.addSql(`create table "read_audit" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid null, "actor_user_id" uuid null, "actor_api_key_id" uuid null, "session_id" uuid null, "action" varchar(40) not null, "target_type" varchar(40) not null, "target_id" uuid not null, constraint "read_audit_pkey" primary key ("id"));`);
    this.addSql(`create index "read_audit_organization_id_target_id_created_at_id_index" on "read_audit" ("organization_id", "target_id", "created_at", "id");`);
    this.addSql(`create index "read_audit_organization_id_actor_user_id_created_at_id_index" on "read_audit" ("organization_id", "actor_user_id", "created_at", "id");`);
    this.addSql(`create index "read_audit_organization_id_workspace_id_created_at_id_index" on "read_audit" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`create index "read_audit_organization_id_created_at_id_index" on "read_audit" ("organization_id", "created_at", "id");`);
    this.addSql(`alter table "read_audit" add constraint "read_audit_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "read_audit" cascade;`);
    this.addSql(`drop table if exists "usage_active_users" cascade;`);
    this.addSql(`drop table if exists "conversation_rollups" cascade;`);
    this.addSql(`drop table if exists "report_thread_states" cascade;`);
    this.addSql(`drop table if exists "report_rollup_cursors" cascade;`);
  }
}
