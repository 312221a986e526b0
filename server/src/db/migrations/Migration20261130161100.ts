import { Migration } from '@mikro-orm/migrations';

/**
 * (wt-domain) One unmerged contact per phone number in a workspace, so two concurrent first messages from a
 * new number make one contact (and, with its row lock, one open thread). Duplicates already stored are
 * merged into the oldest first: their threads move to it and they are marked merged (as mergeContacts does).
 */
export class Migration20261130161100 extends Migration {
  override async up(): Promise<void> {
    // Each duplicate (not the oldest of its number) with the contact it folds into.
    const duplicates = `select c.id as dup_id, k.keep_id from contacts c
        join (select organization_id, workspace_id, phone, (array_agg(id order by created_at, id))[1] as keep_id
                from contacts where merged_into_id is null and phone is not null
               group by organization_id, workspace_id, phone having count(*) > 1) k
          on k.organization_id = c.organization_id and k.workspace_id = c.workspace_id and k.phone = c.phone
       where c.merged_into_id is null and c.id <> k.keep_id`;
    this.addSql(`update threads t set contact_id = d.keep_id from (${duplicates}) d where t.contact_id = d.dup_id;`);
    this.addSql(`update contacts c set merged_into_id = d.keep_id from (${duplicates}) d where c.id = d.dup_id;`);
    this.addSql(`create unique index "contacts_workspace_phone_unique" on "contacts" ("organization_id", "workspace_id", "phone") where "merged_into_id" is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "contacts_workspace_phone_unique";`);
  }
}
