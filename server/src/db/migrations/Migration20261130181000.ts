import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-commerce) Products, catalogue sends, orders with lines and comments, payments, the workspace currency;
 * and the two permissions commerce adds to the catalogue (custom roles and API keys store permissions as this enum).
 */
export class Migration20261130181000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter type "permission" add value if not exists 'ORDERS_READ_ALL';`);
    this.addSql(`alter type "permission" add value if not exists 'CATALOGS_SEND';`);
    this.addSql(`create type "order_status" as enum ('DRAFT', 'PLACED', 'REJECTED', 'PAID', 'FULFILLED', 'CANCELLED');`);
    this.addSql(`create type "payment_status" as enum ('PENDING', 'RECONCILED', 'REJECTED');`);
    this.addSql(`create table "products" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "sku" varchar(64) not null, "name" varchar(200) not null, "description" text null, "price_amount" bigint not null, "currency" varchar(3) not null, "active" boolean not null default true, "image_url" varchar(2000) null, "updated_at" timestamptz not null default now(), constraint "products_pkey" primary key ("id"));`);
    this.addSql(`create index "products_organization_id_workspace_id_created_at_id_index" on "products" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`alter table "products" add constraint "products_organization_id_workspace_id_sku_unique" unique ("organization_id", "workspace_id", "sku");`);

    this.addSql(`create table "orders" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "status" "order_status" not null default 'DRAFT', "thread_id" uuid null, "contact_id" uuid null, "customer_name" varchar(200) null, "currency" varchar(3) not null, "total_amount" bigint not null default 0, "paid_amount" bigint not null default 0, "created_by_id" uuid not null, "idempotency_key" varchar(200) null, "rejected_payment_id" uuid null, "updated_at" timestamptz not null default now(), "placed_at" timestamptz null, "paid_at" timestamptz null, "fulfilled_at" timestamptz null, "cancelled_at" timestamptz null, "deleted_at" timestamptz null, constraint "orders_pkey" primary key ("id"));`);
    this.addSql(`create index "orders_organization_id_workspace_id_created_by_id__d9100_index" on "orders" ("organization_id", "workspace_id", "created_by_id", "created_at");`);
    this.addSql(`create index "orders_organization_id_thread_id_index" on "orders" ("organization_id", "thread_id");`);
    this.addSql(`create index "orders_organization_id_workspace_id_created_at_id_index" on "orders" ("organization_id", "workspace_id", "created_at", "id");`);
    this.addSql(`alter table "orders" add constraint "orders_creator_idempotency_key_unique" unique ("organization_id", "created_by_id", "idempotency_key");`);

    this.addSql(`create table "payments" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "order_id" uuid not null, "amount" bigint not null, "method" varchar(50) not null, "external_reference" varchar(200) null, "proof_url" varchar(2000) null, "status" "payment_status" not null default 'PENDING', "rejection_reason" text null, "recorded_by_id" uuid not null, "decided_by_id" uuid null, "decided_at" timestamptz null, "idempotency_key" varchar(200) null, constraint "payments_pkey" primary key ("id"));`);
    this.addSql(`create index "payments_organization_id_order_id_created_at_index" on "payments" ("organization_id", "order_id", "created_at");`);
    this.addSql(`alter table "payments" add constraint "payments_recorder_idempotency_key_unique" unique ("organization_id", "recorded_by_id", "idempotency_key");`);

    this.addSql(`create table "order_lines" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "order_id" uuid not null, "position" int not null, "product_id" uuid null, "description" varchar(500) not null, "quantity" int not null, "unit_amount" bigint not null, constraint "order_lines_pkey" primary key ("id"));`);
    this.addSql(`create index "order_lines_organization_id_order_id_position_index" on "order_lines" ("organization_id", "order_id", "position");`);

    this.addSql(`create table "order_comments" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "order_id" uuid not null, "author_id" uuid not null, "body" text not null, constraint "order_comments_pkey" primary key ("id"));`);
    this.addSql(`create index "order_comments_organization_id_order_id_created_at_index" on "order_comments" ("organization_id", "order_id", "created_at");`);

    this.addSql(`create table "commerce_settings" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "currency" varchar(3) not null, constraint "commerce_settings_pkey" primary key ("id"));`);
    this.addSql(`alter table "commerce_settings" add constraint "commerce_settings_organization_id_workspace_id_unique" unique ("organization_id", "workspace_id");`);

    this.addSql(`create table "catalog_sends" ("id" uuid not null, "created_at" timestamptz not null default now(), "organization_id" uuid not null, "workspace_id" uuid not null, "thread_id" uuid not null, "message_id" uuid not null, "product_ids" text[] not null, "sent_by_id" uuid not null, constraint "catalog_sends_pkey" primary key ("id"));`);
    this.addSql(`create index "catalog_sends_organization_id_thread_id_created_at_index" on "catalog_sends" ("organization_id", "thread_id", "created_at");`);
    this.addSql(`alter table "catalog_sends" add constraint "catalog_sends_organization_id_message_id_unique" unique ("organization_id", "message_id");`);

    this.addSql(`alter table "products" add constraint "products_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "products" add constraint "products_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "orders" add constraint "orders_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "orders" add constraint "orders_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "payments" add constraint "payments_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "payments" add constraint "payments_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "payments" add constraint "payments_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "order_lines" add constraint "order_lines_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "order_lines" add constraint "order_lines_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "order_lines" add constraint "order_lines_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "order_comments" add constraint "order_comments_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "order_comments" add constraint "order_comments_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "order_comments" add constraint "order_comments_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "commerce_settings" add constraint "commerce_settings_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "commerce_settings" add constraint "commerce_settings_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "catalog_sends" add constraint "catalog_sends_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "catalog_sends" add constraint "catalog_sends_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "payments" drop constraint "payments_order_id_foreign";`);

    this.addSql(`alter table "order_lines" drop constraint "order_lines_order_id_foreign";`);

    this.addSql(`alter table "order_comments" drop constraint "order_comments_order_id_foreign";`);

    this.addSql(`drop table if exists "products" cascade;`);

    this.addSql(`drop table if exists "orders" cascade;`);

    this.addSql(`drop table if exists "payments" cascade;`);

    this.addSql(`drop table if exists "order_lines" cascade;`);

    this.addSql(`drop table if exists "order_comments" cascade;`);

    this.addSql(`drop table if exists "commerce_settings" cascade;`);

    this.addSql(`drop table if exists "catalog_sends" cascade;`);

    this.addSql(`drop type "order_status";`);
    this.addSql(`drop type "payment_status";`);
  }

}
