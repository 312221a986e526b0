/**
 * The rollup tables, written with raw SQL (counters are incremented in place by upserts): the schema
 * generator leaves them to their migration (Migration20261130184000).
 */
export const REPORT_ROLLUP_TABLES = [
  'report_rollup_cursors', 'report_thread_states', 'conversation_rollups', 'usage_active_users',
  // The same counters per local day (Migration20261201023000): what reports read unless grouped by hour.
  'conversation_rollups_daily',
  // Exports (Migration20261130230000), raw SQL too.
  'exports', 'export_destinations', 'export_schedules',
];

/** "No agent", "no group", "no campaign" and "the all-tags row" in a rollup key (keys cannot hold nulls). */
export const NONE = '00000000-0000-0000-0000-000000000000';
