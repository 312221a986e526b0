import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-exports) Exports (#20): one row per export run (its file, progress and one-time download token, stored
 * hashed), S3-compatible destinations (the secret key encrypted), and scheduled exports to them. Written with
 * raw SQL by modules/reports/exports; the schema generator leaves them to this migration (rollup-tables.ts).
 */
export class Migration20261130230000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "export_destinations" (
      "id" uuid not null, "organization_id" uuid not null, "name" varchar(100) not null, "endpoint" varchar(500) null,
      "region" varchar(50) not null, "bucket" varchar(100) not null, "prefix" varchar(200) not null default '',
      "force_path_style" boolean not null default false, "access_key_id" varchar(200) not null, "secret_key_encrypted" text not null,
      "created_by_id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(),
      constraint "export_destinations_pkey" primary key ("id"));`);
    this.addSql(`create index "export_destinations_organization_id_created_at_id_index" on "export_destinations" ("organization_id", "created_at", "id");`);
    this.addSql(`alter table "export_destinations" add constraint "export_destinations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "export_schedules" (
      "id" uuid not null, "organization_id" uuid not null, "workspace_id" uuid not null, "destination_id" uuid not null,
      "kind" varchar(40) not null, "format" varchar(10) not null, "params" jsonb not null default '{}', "every_hours" int not null,
      "next_run_at" timestamptz not null, "last_export_id" uuid null, "created_by_id" uuid not null, "created_at" timestamptz not null default now(),
      constraint "export_schedules_pkey" primary key ("id"));`);
    this.addSql(`create index "export_schedules_organization_id_next_run_at_index" on "export_schedules" ("organization_id", "next_run_at");`);
    this.addSql(`alter table "export_schedules" add constraint "export_schedules_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "export_schedules" add constraint "export_schedules_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "export_schedules" add constraint "export_schedules_destination_id_foreign" foreign key ("destination_id") references "export_destinations" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "exports" (
      "id" uuid not null, "organization_id" uuid not null, "workspace_id" uuid not null,
      "created_by_id" uuid not null, "created_by_api_key_id" uuid null, "session_id" uuid null,
      "kind" varchar(40) not null, "format" varchar(10) not null, "params" jsonb not null default '{}',
      "status" varchar(20) not null default 'QUEUED', "rows_written" bigint not null default 0, "bytes_written" bigint not null default 0,
      "error" text null, "destination_id" uuid null, "schedule_id" uuid null, "object_key" varchar(500) null,
      "download_token_hash" varchar(64) null, "download_expires_at" timestamptz null, "downloaded_at" timestamptz null,
      "created_at" timestamptz not null default now(), "started_at" timestamptz null, "finished_at" timestamptz null,
      constraint "exports_pkey" primary key ("id"));`);
    this.addSql(`create index "exports_organization_id_workspace_id_created_at_id_index" on "exports" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`create index "exports_organization_id_status_index" on "exports" ("organization_id", "status");`);
    this.addSql(`alter table "exports" add constraint "exports_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "exports" add constraint "exports_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "exports" cascade;`);
    this.addSql(`drop table if exists "export_schedules" cascade;`);
    this.addSql(`drop table if exists "export_destinations" cascade;`);
  }
}
