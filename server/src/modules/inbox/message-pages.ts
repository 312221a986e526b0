import { getArgumentValues, getNamedType, isObjectType, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import type { RequestContext } from '../../graphql/context';
import { primedLoaderFor, type PrimedLoader } from '../../graphql/loaders';
import { pageSize, toConnection, type Connection } from '../../graphql/pagination';
import { MESSAGE_COLUMNS, messageFromRow, messageKey, THREAD_COLUMNS, threadFromRow, type MessageRowOut, type ThreadRow } from './list-rows';
import { threadRows } from './thread-rows';
import type { Message, Thread } from './thread.entity';
import { sqlQuery } from '../../db/sql-transaction';

const EMPTY_PAGE: Connection<Message> = { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };

/** The request's first message pages of size `first` (null: the default), by thread id. */
export function firstMessagePages(ctx: RequestContext, first: number | null): PrimedLoader<string, Connection<Message>> {
  // First pages of every thread in the list come from one query.
  return primedLoaderFor<string, Connection<Message>>(
    ctx,
    `firstMessages:${first ?? 'default'}`,
    (ids) => ctx.services.threads.firstMessagePages(ctx.reader, ctx.principal!.organizationId, ids, first),
    EMPTY_PAGE,
  );
}

/**
 * The `first` of a first page of `messages` selected directly under the field `info` resolves (a Thread),
 * when there is one and its arguments are valid; undefined otherwise (no page, a later page, or arguments the
 * field itself will refuse).
 */
export function firstMessagesAsked(info: GraphQLResolveInfo): number | null | undefined {
  // Only for a field that answers a Thread (another type's `messages` is not this page).
  const type = getNamedType(info.returnType);
  const def = isObjectType(type) && type.name === 'Thread' ? type.getFields().messages : undefined;
  if (!def) return undefined;
  const find = (set: SelectionSetNode | undefined): number | null | undefined => {
    for (const sel of set?.selections ?? []) {
      if (sel.kind === 'Field' && sel.name.value === 'messages') {
        let args: Record<string, unknown>;
        try {
          args = getArgumentValues(def, sel, info.variableValues);
        } catch {
          return undefined;
        }
        const first = (args.first ?? null) as number | null;
        // The field refuses these (BAD_USER_INPUT): nothing to read ahead.
        if (args.after || (first !== null && (first < 1 || first > 100))) return undefined;
        return first;
      }
      if (sel.kind === 'InlineFragment') {
        const found = find(sel.selectionSet);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  for (const node of info.fieldNodes) {
    const found = find(node.selectionSet);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * A thread's plain row and its first message page in one statement (the thread as json on the first row),
 * kept for the request: the object scope of `thread(id)` reads it when the query asks for that page, so the
 * page is one round trip rather than the thread's and then the page's.
 */
export async function threadWithFirstMessages(ctx: RequestContext, id: string, first: number | null): Promise<Thread | null> {
  const rows = threadRows(ctx);
  const pages = firstMessagePages(ctx, first);
  if (rows.has(id) || pages.has(id)) return rows.load(id);
  const size = pageSize(first, 50);
  const found = await sqlQuery<MessageRowOut & { thread_json: ThreadRow | null; n: string | null }>(
    ctx.reader,
    `select case when m.n is null or m.n = 1 then row_to_json(t) end as thread_json, m.*
       from (select ${THREAD_COLUMNS} from threads t where t.organization_id = ? and t.id = ?) t
       left join lateral (select ${MESSAGE_COLUMNS}, row_number() over (order by m.created_at desc, m.id desc) as n
                            from messages m where m.organization_id = t.organization_id and m.thread_id = t.id
                           order by m.created_at desc, m.id desc limit ?) m on true
      order by m.n`,
    [ctx.principal!.organizationId, id, size + 1],
  );
  // Another read of the request may have finished meanwhile: the first answer stands.
  if (rows.has(id)) return rows.load(id);
  const head = found[0]?.thread_json;
  const thread = head ? threadFromRow(head) : null;
  rows.prime(id, thread);
  if (thread) pages.prime(id, toConnection(found.filter((r) => r.id !== null).map(messageFromRow), size, messageKey));
  return thread;
}
