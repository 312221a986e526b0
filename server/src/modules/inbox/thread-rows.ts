import type { RequestContext } from '../../graphql/context';
import { primedLoaderFor, type PrimedLoader } from '../../graphql/loaders';
import { uuidArray } from '../../db/tenant';
import { sqlQuery } from '../../db/sql-transaction';
import type { Thread } from './thread.entity';
import { THREAD_COLUMNS, threadFromRow, type ThreadRow } from './list-rows';

/**
 * Threads by id for reading, as plain rows (list-rows.ts: unmanaged objects with the entity's prototype), in
 * the caller's organization: the ids asked in one tick are read in one statement on the primary key, and each
 * answer is kept for the request (a query, or one subscribe), as the identity map kept the entity before.
 * The object scope of a thread id (scopes.ts) and the `thread(id)` field share it, so a message page reads
 * its thread once. Not for writes: nothing may flush these objects (mutations load the entity).
 */
export function threadRows(ctx: RequestContext): PrimedLoader<string, Thread | null> {
  const organizationId = ctx.principal!.organizationId;
  return primedLoaderFor<string, Thread | null>(
    ctx,
    'threadRowById',
    async (ids) => {
      const rows =
        ids.length === 1
          ? await sqlQuery<ThreadRow>(ctx.reader, `select ${THREAD_COLUMNS} from threads t where t.organization_id = ? and t.id = ?`, [organizationId, ids[0]])
          : await sqlQuery<ThreadRow>(ctx.reader, `select ${THREAD_COLUMNS} from threads t where t.organization_id = ? and t.id = any(?::uuid[])`, [organizationId, uuidArray(ids)]);
      const found = new Map(rows.map((r) => [r.id, threadFromRow(r)]));
      // Kept as known values: later reads of the request answer without a promise or a statement.
      const loader = threadRows(ctx);
      for (const id of ids) loader.prime(id, found.get(id) ?? null);
      return found;
    },
    null,
  );
}

export async function threadRow(ctx: RequestContext, id: string): Promise<Thread | null> {
  return threadRows(ctx).load(id);
}
