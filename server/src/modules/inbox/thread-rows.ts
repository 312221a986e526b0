import type { RequestContext } from '../../graphql/context';
import { primedLoaderFor, type PrimedLoader } from '../../graphql/loaders';
import { uuidArray } from '../../db/tenant';
import { sqlRead } from '../../db/sql-transaction';
import { CoalescedReads } from '../../shared/coalesce';
import type { Thread } from './thread.entity';
import { THREAD_COLUMNS, threadFromRow, type ThreadRow } from './list-rows';

/**
 * Single-thread reads in flight per (organization, thread), shared by every caller of the process that asks
 * while one waits or runs, whoever the principal (the row does not depend on it): 10k sockets subscribing to one
 * thread make a few reads, not one each. Back-to-back reads of one thread are spaced (READ_SPACING_MS), so a
 * burst shares one read per interval; each caller makes its own object from the shared row.
 */
const READ_SPACING_MS = 20;
const singleReads = new CoalescedReads<ThreadRow | undefined>(READ_SPACING_MS);

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
      // The statements name the organization themselves: the pool's connection (no EntityManager fork), the
      // statement bound and prepared (db/sql-transaction.ts sqlRead).
      const connection = ctx.reader.getConnection('write');
      let found: Map<string, Thread>;
      if (ids.length === 1) {
        const id = ids[0]!;
        const row = await singleReads.read(`${organizationId}:${id}`, async () =>
          (await sqlRead<ThreadRow>(connection, `select ${THREAD_COLUMNS} from threads t where t.organization_id = ? and t.id = ?`, [organizationId, id]))[0],
        );
        found = new Map(row ? [[row.id, threadFromRow(row)]] : []);
      } else {
        const rows = await sqlRead<ThreadRow>(connection, `select ${THREAD_COLUMNS} from threads t where t.organization_id = ? and t.id = any(?::uuid[])`, [organizationId, uuidArray(ids)]);
        found = new Map(rows.map((r) => [r.id, threadFromRow(r)]));
      }
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
