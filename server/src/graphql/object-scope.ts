import type { GraphQLResolveInfo } from 'graphql';
import type { RequestContext } from './context';
import { CoalescedReads } from '../shared/coalesce';

/** The workspaces an object belongs to; null stands for the organization level. */
export interface ObjectScope {
  workspaceIds: Array<string | null>;
  /** The object exists but the caller may not see it (an agent and someone else's thread): NOT_FOUND. */
  hidden?: boolean;
}

/**
 * Why the object is looked up: 'read' for queries and subscriptions (a loader may answer from a plain row,
 * kept for the request), 'write' for mutations (the loader should load what the mutation will change, e.g.
 * the managed entity its transaction then finds in the identity map, and answer from its current state).
 */
export type ObjectScopePurpose = 'read' | 'write';

/**
 * Finds an object by id within the caller's organization (the tenant filter applies); null when absent.
 * `info` is the field being checked, when there is one: a hint only (a loader may read in the same statement
 * what the field's selection will ask next); the answer must not depend on it.
 */
export type ObjectScopeLoader = (ctx: RequestContext, id: string, purpose: ObjectScopePurpose, info?: GraphQLResolveInfo) => Promise<ObjectScope | null>;

const loaders = new Map<string, ObjectScopeLoader>();

/**
 * Modules register how to find the workspace of their objects, so `@Auth(P, { scope: { object, arg } })`
 * checks the permission where the object lives rather than anywhere the caller holds it.
 */
export function registerObjectScope(name: string, loader: ObjectScopeLoader): void {
  loaders.set(name, loader);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads in flight per principal object and (object, id). Every socket of a session shares one Principal
 * (realtime/connections.ts), so 10k sockets subscribing to one thread ask the same question at once: callers
 * that ask while a read is running share the next read (one that starts after they asked, so none gets an
 * answer older than its question). Nothing is kept once no read is running.
 */
const inFlight = new WeakMap<object, CoalescedReads<ObjectScope | null>>();

export async function loadObjectScope(
  name: string,
  ctx: RequestContext,
  id: unknown,
  purpose: ObjectScopePurpose = 'read',
  info?: GraphQLResolveInfo,
): Promise<ObjectScope | null> {
  const loader = loaders.get(name);
  if (!loader) throw new Error(`no object scope registered for ${name}`);
  // A malformed id names nothing; Postgres would otherwise reject it as a uuid.
  if (typeof id !== 'string' || !UUID.test(id)) return null;
  const principal = ctx.principal;
  if (!principal) return loader(ctx, id, purpose, info);
  const key = `${purpose}:${name}:${id}`;
  // A read's answer is kept for the request, as the loaders keep the rows: subscribing asks twice (the @auth
  // check, then the resolver for the workspace), and an answer shared from another caller's read is not in this
  // request's loaders. Writes ask afresh (their transaction's view).
  const memoKey = purpose === 'read' ? `objectScope:${key}` : null;
  if (memoKey) {
    const kept = ctx.memo.get(memoKey) as Promise<ObjectScope | null> | undefined;
    if (kept) return kept;
  }
  let reads = inFlight.get(principal);
  if (!reads) inFlight.set(principal, (reads = new CoalescedReads()));
  // `info` is a hint (a Thread scope may read the first message page with the thread): a read shared with another
  // caller answers the same scope, only the hint's saving may be that caller's.
  const answer = reads.read(key, () => loader(ctx, id, purpose, info));
  if (memoKey) {
    ctx.memo.set(memoKey, answer);
    answer.catch(() => ctx.memo.get(memoKey) === answer && ctx.memo.delete(memoKey));
  }
  return answer;
}

export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}
