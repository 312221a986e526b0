import { Migration } from '@mikro-orm/migrations';

/**
 * The event log. `xid` is the appending transaction's id (xid8): readers deliver in (xid, id) order and only
 * below pg_snapshot_xmin(pg_current_snapshot()), so an event never overtakes one committed later with a
 * smaller id. The tailer's (xid, id) index is cross-tenant on purpose (one reader per process for every
 * organization); resume reads use the (organization_id, workspace_id, xid, id) index.
 */
export class Migration20261124201500 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "events" (
      "id" bigint generated always as identity primary key,
      "xid" xid8 not null default pg_current_xact_id(),
      "organization_id" uuid not null references "organizations" ("id") on delete cascade,
      "workspace_id" uuid not null,
      "type" varchar(40) not null,
      "thread_id" uuid null,
      "payload" jsonb not null,
      "created_at" timestamptz not null default now());`);
    this.addSql(`create index "events_xid_id_index" on "events" ("xid", "id");`);
    this.addSql(`create index "events_organization_id_workspace_id_xid_id_index" on "events" ("organization_id", "workspace_id", "xid", "id");`);
    this.addSql(`create index "events_created_at_index" on "events" ("created_at");`);
    this.addSql(`create table "event_log_watermark" ("id" int primary key check ("id" = 1), "xid" xid8 not null, "event_id" bigint not null);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "event_log_watermark";`);
    this.addSql(`drop table if exists "events";`);
  }
}
