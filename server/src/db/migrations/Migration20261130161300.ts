import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-domain) Invitations are per organization: an email is unique within an organization, and across the
 * service only among accounts that can log in (a password set). A pending invitee elsewhere no longer makes
 * every other organization's invitation to that address a CONFLICT that reveals it exists.
 */
export class Migration20261130161300 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "users" drop constraint "users_email_unique";`);
    this.addSql(`alter table "users" add constraint "users_organization_id_email_unique" unique ("organization_id", "email");`);
    this.addSql(`create unique index "users_login_email_unique" on "users" ("email") where "password_hash" is not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "users_login_email_unique";`);
    this.addSql(`alter table "users" drop constraint "users_organization_id_email_unique";`);
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);
  }
}
