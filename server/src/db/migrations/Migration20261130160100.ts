import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-accounts) Password reset tokens and known login devices. Both are tenant-owned: organization_id leads
 * their indexes; the token hashes are unique (lookups by hash are the one cross-tenant read).
 */
export class Migration20261130160100 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "password_reset_tokens" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "user_id" uuid not null, "token_hash" varchar(64) not null, "expires_at" timestamptz not null, "used_at" timestamptz null, constraint "password_reset_tokens_pkey" primary key ("id"));`);
    this.addSql(`alter table "password_reset_tokens" add constraint "password_reset_tokens_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "password_reset_tokens_organization_id_user_id_index" on "password_reset_tokens" ("organization_id", "user_id");`);
    this.addSql(`alter table "password_reset_tokens" add constraint "password_reset_tokens_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "password_reset_tokens" add constraint "password_reset_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "known_devices" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "user_id" uuid not null, "token_hash" varchar(64) not null, "last_used_at" timestamptz null, constraint "known_devices_pkey" primary key ("id"));`);
    this.addSql(`alter table "known_devices" add constraint "known_devices_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "known_devices_organization_id_user_id_index" on "known_devices" ("organization_id", "user_id");`);
    this.addSql(`alter table "known_devices" add constraint "known_devices_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "known_devices" add constraint "known_devices_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "known_devices" cascade;`);
    this.addSql(`drop table if exists "password_reset_tokens" cascade;`);
  }
}
