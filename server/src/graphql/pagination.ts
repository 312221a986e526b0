import { Field, ObjectType, type ClassType } from 'type-graphql';
import { badInput } from '../shared/errors';
import { LIMITS } from './limits';
import { isUuid } from './input-guards';
import { Public } from './auth';

// simpleResolvers: its plain fields read the property with graphql-js's default resolver, not a type-graphql wrapper
// per field (pages read hundreds); @FieldResolver fields and @auth checks are unchanged.
@ObjectType({ description: 'Relay page information.', simpleResolvers: true })
@Public('describes a page whose edges are each guarded by their own type')
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
}

/**
 * A Relay connection type for T. Edges and pageInfo are public containers: the nodes carry their type's @auth.
 */
export function ConnectionType<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  @Public('an edge holds a node that carries its own @auth')
  class EdgeType {
    @Field()
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true })
  @Public('a page of nodes that carry their own @auth')
  class ConnectionClass {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }
  return ConnectionClass as ClassType<Connection<T>>;
}

/** Keyset cursors: the sort key of the last row, opaque to clients (base64url JSON). */
export function encodeCursor(key: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Longer than any cursor we hand out (an ISO timestamp and a UUID); longer ones are not decoded at all. */
const MAX_CURSOR_LENGTH = 200;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A timestamp exactly as `Date.toISOString` writes it (so Postgres reads the same instant). */
function isIsoTimestamp(value: unknown): value is string {
  return typeof value === 'string' && ISO_TIMESTAMP.test(value) && new Date(value).toISOString() === value;
}

/**
 * Every keyset cursor of this API is (created/activity timestamp, row id): `arity` 2 is that pair, checked
 * fully here (a cursor that decodes but holds anything else is BAD_USER_INPUT, never a failed SQL cast).
 */
export function decodeCursor(cursor: string | null | undefined, arity: 2): [string, string] | null {
  if (cursor === null || cursor === undefined) return null;
  if (cursor.length <= MAX_CURSOR_LENGTH && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
      if (Array.isArray(key) && key.length === arity && isIsoTimestamp(key[0]) && isUuid(key[1])) return [key[0], key[1]];
    } catch {
      // fall through
    }
  }
  throw badInput('Invalid cursor', { field: 'after' });
}

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > LIMITS.maxPageSize) throw badInput(`first must be 1..${LIMITS.maxPageSize}`, { field: 'first' });
  return n;
}

/** Builds a connection from rows fetched with limit + 1 (the extra row only says whether there is more). */
export function toConnection<T>(rows: T[], size: number, keyOf: (row: T) => unknown[]): Connection<T> {
  const page = rows.slice(0, size);
  const edges = page.map((node) => ({ node, cursor: encodeCursor(keyOf(node)) }));
  return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
}
