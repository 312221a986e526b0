import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-domain) Idempotency keys belong to their author in a workspace: one user's key never matches another
 * user's message (startThread used to answer with whatever thread of the organization held the key).
 */
export class Migration20261130161200 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "messages" drop constraint "messages_organization_id_idempotency_key_unique";`);
    this.addSql(`alter table "messages" add constraint "messages_author_idempotency_key_unique" unique ("organization_id", "workspace_id", "author_id", "idempotency_key");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "messages" drop constraint "messages_author_idempotency_key_unique";`);
    this.addSql(`alter table "messages" add constraint "messages_organization_id_idempotency_key_unique" unique ("organization_id", "idempotency_key");`);
  }
}
