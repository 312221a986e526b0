import { Migration } from '@mikro-orm/migrations';

/** (lead) Phone numbers of a workspace: the sending numbers campaigns use (PHONE_NUMBERS_MANAGE). */

export class Migration20261201024612 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "phone_numbers" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "number" varchar(20) not null, "display_name" varchar(100) not null, "registered_by_id" uuid null, "updated_at" timestamptz not null default now(), constraint "phone_numbers_pkey" primary key ("id"));`);
    this.addSql(`create index "phone_numbers_organization_id_workspace_id_number_index" on "phone_numbers" ("organization_id", "workspace_id", "number");`);
    this.addSql(`alter table "phone_numbers" add constraint "phone_numbers_organization_id_number_unique" unique ("organization_id", "number");`);

    this.addSql(`alter table "phone_numbers" add constraint "phone_numbers_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "phone_numbers" cascade;`);
  }

}
