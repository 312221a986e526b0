import type { RequestContext } from './context';

/** The workspaces an object belongs to; null stands for the organization level. */
export interface ObjectScope {
  workspaceIds: Array<string | null>;
  /** The object exists but the caller may not see it (an agent and someone else's thread): NOT_FOUND. */
  hidden?: boolean;
}

/** Finds an object by id within the caller's organization (the tenant filter applies); null when absent. */
export type ObjectScopeLoader = (ctx: RequestContext, id: string) => Promise<ObjectScope | null>;

const loaders = new Map<string, ObjectScopeLoader>();

/**
 * Modules register how to find the workspace of their objects, so `@Auth(P, { scope: { object, arg } })`
 * checks the permission where the object lives rather than anywhere the caller holds it.
 */
export function registerObjectScope(name: string, loader: ObjectScopeLoader): void {
  loaders.set(name, loader);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function loadObjectScope(name: string, ctx: RequestContext, id: unknown): Promise<ObjectScope | null> {
  const loader = loaders.get(name);
  if (!loader) throw new Error(`no object scope registered for ${name}`);
  // A malformed id names nothing; Postgres would otherwise reject it as a uuid.
  if (typeof id !== 'string' || !UUID.test(id)) return null;
  return loader(ctx, id);
}

export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}
