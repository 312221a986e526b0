import { Migration } from '@mikro-orm/migrations';

export class Migration20261124200245 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "threads_organization_id_workspace_id_needs_respons_eae02_index" on "threads" ("organization_id", "workspace_id", "needs_response", "last_activity_at", "id");`);
    this.addSql(`create index "threads_organization_id_workspace_id_campaign_id_l_8a066_index" on "threads" ("organization_id", "workspace_id", "campaign_id", "last_activity_at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "threads_organization_id_workspace_id_needs_respons_eae02_index";`);
    this.addSql(`drop index "threads_organization_id_workspace_id_campaign_id_l_8a066_index";`);
  }

}
