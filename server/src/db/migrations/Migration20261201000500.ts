import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-receipts) Parked delivery receipts: a receipt whose message row is not committed yet (the broadcast
 * sender writes its messages after the provider calls) waits here until the writer of the message applies it
 * (modules/inbox/parked-receipts.ts). Written with raw SQL; the schema generator leaves it to this migration.
 */
export class Migration20261201000500 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "parked_receipts" (
      "id" bigserial not null, "organization_id" uuid not null, "provider_message_id" varchar(255) not null,
      "status" varchar(20) not null, "error" text null, "received_at" timestamptz not null default now(),
      constraint "parked_receipts_pkey" primary key ("id"));`);
    this.addSql(`create index "parked_receipts_organization_id_provider_message_id_index" on "parked_receipts" ("organization_id", "provider_message_id", "id");`);
    this.addSql(`create index "parked_receipts_organization_id_received_at_index" on "parked_receipts" ("organization_id", "received_at");`);
    this.addSql(`alter table "parked_receipts" add constraint "parked_receipts_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "parked_receipts" cascade;`);
  }
}
