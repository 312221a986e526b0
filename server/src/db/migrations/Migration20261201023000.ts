import { Migration } from '@mikro-orm/migrations';

const COUNTERS = [
  'threads_opened', 'messages_in', 'messages_out', 'segments_out', 'delivered', 'failed', 'closed', 'transferred', 'no_response',
  'first_response_count', 'first_response_ms', 'resolution_count', 'resolution_ms',
];
const BUCKETS = 16;
const histSum = (col: string) => `array[${Array.from({ length: BUCKETS }, (_, i) => `sum(${col}[${i + 1}])`).join(', ')}]::int[]`;

/**
 * (wt-reports) Reports from a per-local-day rollup: conversation_rollups_daily holds the same counters and
 * histograms as conversation_rollups, one row per organization, workspace, local day (the workspace's time
 * zone, as the hourly rows' wall-clock hour), agent, group, campaign and tag. The rollup worker writes both in
 * the same transaction; reports read the day rows except when grouped by HOUR (a month is ~24x fewer rows).
 * Backfilled here from the hourly rows. The key puts the tag before the day: a report reads either the
 * all-tags rows (tag_id = the nil uuid) or one tag's, each a contiguous range per workspace and period.
 */
export class Migration20261201023000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "conversation_rollups_daily" (
      "organization_id" uuid not null, "workspace_id" uuid not null, "day" date not null,
      "agent_id" uuid not null, "group_id" uuid not null, "campaign_id" uuid not null, "tag_id" uuid not null,
      "threads_opened" int not null default 0, "messages_in" int not null default 0, "messages_out" int not null default 0,
      "segments_out" int not null default 0, "delivered" int not null default 0, "failed" int not null default 0,
      "closed" int not null default 0, "transferred" int not null default 0, "no_response" int not null default 0,
      "first_response_count" int not null default 0, "first_response_ms" bigint not null default 0, "first_response_hist" int[] not null,
      "resolution_count" int not null default 0, "resolution_ms" bigint not null default 0, "resolution_hist" int[] not null,
      primary key ("organization_id", "workspace_id", "tag_id", "day", "agent_id", "group_id", "campaign_id"));`);
    this.addSql(`insert into "conversation_rollups_daily" ("organization_id", "workspace_id", "day", "agent_id", "group_id", "campaign_id", "tag_id",
        ${COUNTERS.map((c) => `"${c}"`).join(', ')}, "first_response_hist", "resolution_hist")
      select organization_id, workspace_id, hour::date, agent_id, group_id, campaign_id, tag_id,
             ${COUNTERS.map((c) => `sum(${c})`).join(', ')}, ${histSum('first_response_hist')}, ${histSum('resolution_hist')}
        from conversation_rollups group by organization_id, workspace_id, hour::date, agent_id, group_id, campaign_id, tag_id;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "conversation_rollups_daily" cascade;`);
  }
}
