import pg from 'pg';
import { encodeEventCursor } from '../../server/src/realtime/events';

/**
 * Writes `batches` transactions of `perBatch` MESSAGE_ADDED events each, copies of a thread's first event that carries a message with
 * a `size`-character body (`${prefix}-${n}`): thousands of events in a few seconds, without thousands of
 * mutations. Direct rows wake no process: the hub's poll picks them up.
 */
export async function writeBulkEvents(dbUrl: string, threadId: string, opts: { batches: number; perBatch: number; size: number; prefix: string }): Promise<void> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    for (let b = 0; b < opts.batches; b++) {
      await c.query(
        `insert into events (organization_id, workspace_id, type, thread_id, payload)
         select e.organization_id, e.workspace_id, 'MESSAGE_ADDED', e.thread_id,
                jsonb_set(e.payload, '{message,body}', to_jsonb($2 || '-' || ($3::int + g) || '-' || repeat('x', $4::int)))
           from (select * from events where thread_id = $1 and payload->'thread' is not null and payload->'message' is not null order by id limit 1) e,
                generate_series(0, $5::int - 1) g
          order by g`,
        [threadId, opts.prefix, b * opts.perBatch, opts.size, opts.perBatch],
      );
    }
  } finally {
    await c.end();
  }
}

/** The log's cursors of a thread's events whose body starts with `prefix-`, in log order. */
export async function bulkCursors(dbUrl: string, threadId: string, prefix: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ xid: string; id: string }>(
      `select xid::text as xid, id::text as id from events where thread_id = $1 and payload->'message'->>'body' like $2 order by events.xid, events.id`,
      [threadId, `${prefix}-%`],
    );
    return rows.map((r) => encodeEventCursor(r.xid, r.id));
  } finally {
    await c.end();
  }
}
