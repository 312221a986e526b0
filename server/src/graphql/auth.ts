import {
  GraphQLDirective,
  GraphQLError,
  GraphQLList,
  GraphQLNonNull,
  DirectiveLocation,
  defaultFieldResolver,
  type GraphQLEnumType,
  type GraphQLFieldConfig,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { Directive, Extensions } from 'type-graphql';
import { Permission } from '../modules/identity/permissions';
import { DomainError, ErrorCode } from '../shared/errors';
import { toGraphQLError } from './errors';
import type { RequestContext } from './context';
import { loadObjectScope, type ObjectScopePurpose } from './object-scope';

/**
 * Where the workspace that a check is scoped to comes from.
 * - 'parent': the object being read (its `workspaceId`; an object with none is checked organization-wide).
 *   The default for object types and their fields.
 * - 'organization': the permission must be held organization-wide.
 * - 'anywhere': held on at least one workspace. A gate only: the service loads the object and checks its
 *   workspace (`requirePermission`). The default for root fields with no workspace argument.
 * - { arg }: the workspace id in that argument (a dotted path reaches into an input object). The default
 *   for root fields that take `workspaceId`.
 * - { object, arg }: the object whose id is in that argument, loaded (tenant-scoped) by the loader registered
 *   under that name; the check runs against every workspace the object belongs to. Unknown ids: NOT_FOUND.
 *   A mutation looks the object up for writing (ObjectScopePurpose 'write'), unless `lookup: 'read'` says its
 *   service reads (and locks) the object with a statement of its own, so the check needs only a plain row.
 */
export type AuthScope = 'parent' | 'organization' | 'anywhere' | { arg: string; object?: undefined } | { object: string; arg: string; lookup?: 'read' };

interface AuthExtension {
  requires: Permission[];
  scope?: AuthScope;
}

const AUTH_EXTENSION = 'auth';
const EXEMPT_EXTENSION = 'authExempt';

/**
 * THE auth decorator: `@Auth(Permission.X)` on a query, mutation, subscription, object type or field both
 * emits `@auth(requires: [X])` into the SDL and is what the server enforces (applyAuth reads it back).
 * A check on an object type applies to every field of the type; a field's own check adds to it.
 * A denied object field resolves to null with a FORBIDDEN error at its path, so guarded fields are nullable.
 */
export function Auth(requires: Permission | readonly Permission[], options: { scope?: AuthScope } = {}) {
  // An empty list means: any authenticated principal (`@auth(requires: [])` in the SDL).
  const list = Array.isArray(requires) ? requires : [requires];
  const directive = Directive(`@auth(requires: [${list.join(', ')}])`);
  const extension = Extensions({ [AUTH_EXTENSION]: { requires: list, scope: options.scope } satisfies AuthExtension });
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor): void => {
    if (propertyKey === undefined) {
      (directive as ClassDecorator)(target as () => void);
      (extension as ClassDecorator)(target as () => void);
    } else {
      (directive as MethodDecorator)(target, propertyKey, descriptor!);
      (extension as MethodDecorator)(target, propertyKey, descriptor!);
    }
  };
}

/**
 * An explicit, reasoned exemption from @auth (login, signUp, health-ish fields, types whose parent is
 * already guarded). The schema-lint test fails on any field that has neither @Auth nor @Public.
 */
export function Public(reason: string) {
  if (!reason.trim()) throw new Error('@Public needs a reason');
  return Extensions({ [EXEMPT_EXTENSION]: reason });
}

export const AUTH_DIRECTIVE_NAME = 'auth';

/** The directive definition; built from the schema's own Permission enum so the SDL names one type. */
export function authDirective(permissionEnum: GraphQLEnumType): GraphQLDirective {
  return new GraphQLDirective({
    name: AUTH_DIRECTIVE_NAME,
    description: 'The permissions a caller needs, checked against the workspace of the object read.',
    locations: [DirectiveLocation.OBJECT, DirectiveLocation.FIELD_DEFINITION, DirectiveLocation.INTERFACE],
    args: { requires: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(permissionEnum))) } },
  });
}

export interface FieldAuth {
  requires: Permission[];
  scope: AuthScope;
}

/** Reads what a field requires: its type's @auth plus its own. Null means the field carries no check. */
export function fieldAuth(
  schema: GraphQLSchema,
  typeName: string,
  fieldName: string,
): FieldAuth | null {
  const type = schema.getType(typeName);
  if (!type || !('getFields' in type)) return null;
  const field = type.getFields()[fieldName];
  const typeExt = type.extensions?.[AUTH_EXTENSION] as AuthExtension | undefined;
  const fieldExt = field?.extensions?.[AUTH_EXTENSION] as AuthExtension | undefined;
  if (!typeExt && !fieldExt) return null;
  const isRoot = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].some((t) => t?.name === typeName);
  const requires = [...new Set([...(typeExt?.requires ?? []), ...(fieldExt?.requires ?? [])])];
  let scope = fieldExt?.scope ?? typeExt?.scope;
  if (!scope) {
    if (!isRoot) scope = 'parent';
    else scope = field && 'args' in field && field.args.some((a) => a.name === 'workspaceId') ? { arg: 'workspaceId' } : 'anywhere';
  }
  return { requires, scope };
}

export function isExempt(extensions: Record<string, unknown> | null | undefined): boolean {
  return typeof extensions?.[EXEMPT_EXTENSION] === 'string';
}

export function hasAuth(extensions: Record<string, unknown> | null | undefined): boolean {
  return extensions?.[AUTH_EXTENSION] !== undefined;
}

function readPath(source: unknown, path: string): unknown {
  let current = source;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The workspace an object belongs to; objects with none (organization, user) are checked organization-wide. */
function workspaceOfParent(parent: unknown): string | null {
  if (parent && typeof parent === 'object' && 'workspaceId' in parent) {
    const id = (parent as { workspaceId?: unknown }).workspaceId;
    return typeof id === 'string' ? id : null;
  }
  return null;
}

function denied(auth: FieldAuth): GraphQLError {
  return toGraphQLError(new DomainError(ErrorCode.FORBIDDEN, 'You do not have permission to do this', { requires: auth.requires }));
}

/** The check for `{ object, arg }` scopes: load the object's workspaces, then require the permissions on each. */
export async function checkObjectAuth(
  auth: FieldAuth,
  args: Record<string, unknown>,
  ctx: RequestContext,
  purpose: ObjectScopePurpose = 'read',
  info?: GraphQLResolveInfo,
): Promise<void> {
  const access = ctx.principal?.access;
  if (!access) throw toGraphQLError(new DomainError(ErrorCode.UNAUTHENTICATED, 'Authentication required'));
  const scope = auth.scope as { object: string; arg: string };
  // Cheap refusal first: without the permission anywhere, the object's whereabouts do not matter.
  if (!auth.requires.every((p) => access.canAnywhere(p))) throw denied(auth);
  const found = await loadObjectScope(scope.object, ctx, readPath(args, scope.arg), purpose, info);
  if (!found || found.hidden) throw toGraphQLError(new DomainError(ErrorCode.NOT_FOUND, `${scope.object} not found`));
  const ok = found.workspaceIds.every((ws) =>
    ws === null ? auth.requires.every((p) => access.canInOrganization(p)) : access.canAll(auth.requires, ws),
  );
  if (!ok) throw denied(auth);
}

/** The single authorization check, used by HTTP queries, mutations and every subscription event alike. */
export function checkAuth(auth: FieldAuth, source: unknown, args: Record<string, unknown>, ctx: RequestContext): void {
  const access = ctx.principal?.access;
  if (!access) throw toGraphQLError(new DomainError(ErrorCode.UNAUTHENTICATED, 'Authentication required'));
  const scope = auth.scope;
  let ok: boolean;
  if (typeof scope === 'object' && scope.object !== undefined) {
    throw new Error('object scopes are checked by checkObjectAuth');
  } else if (scope === 'organization') {
    ok = auth.requires.every((p) => access.canInOrganization(p));
  } else if (scope === 'anywhere') {
    ok = auth.requires.every((p) => access.canAnywhere(p));
  } else {
    const workspaceId = scope === 'parent' ? workspaceOfParent(source) : readPath(args, scope.arg);
    if (typeof workspaceId === 'string' && auth.requires.length > 0 && access.canAll(auth.requires, workspaceId)) {
      // The common case, in one lookup: permissions held there mean the workspace is the organization's (an
      // unknown one holds none), so the NOT_FOUND test below would pass.
      ok = true;
    } else if (workspaceId === null || workspaceId === undefined) {
      // An object without a workspace (the organization itself, a user) needs an organization-level grant,
      // or, for organization-readable types, a grant anywhere in the organization.
      ok = auth.requires.every((p) => access.canInOrganization(p) || (scope === 'parent' && access.canAnywhere(p)));
    } else if (typeof workspaceId !== 'string' || !access.knowsWorkspace(workspaceId)) {
      throw toGraphQLError(new DomainError(ErrorCode.NOT_FOUND, 'Workspace not found'));
    } else {
      ok = access.canAll(auth.requires, workspaceId);
    }
  }
  if (!ok) throw denied(auth);
}

/**
 * Wraps every field that carries @auth (on itself or its type) with the check. Subscriptions are checked
 * when subscribing and again for every event they deliver (the resolve step), against the subscriber's
 * current access.
 */
export function applyAuth(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config: GraphQLFieldConfig<unknown, RequestContext>, fieldName, typeName) => {
      const auth = fieldAuth(schema, typeName, fieldName);
      if (!auth) return config;
      const resolve = config.resolve ?? defaultFieldResolver;
      const byObject = typeof auth.scope === 'object' && auth.scope.object !== undefined;
      // Mutations look their object up for writing (what their transaction will change); the rest for reading.
      const purpose: ObjectScopePurpose = typeName === schema.getMutationType()?.name && !(byObject && (auth.scope as { lookup?: 'read' }).lookup === 'read') ? 'write' : 'read';
      if (config.subscribe) {
        // Subscribing is checked where the subscription points (an object scope loads it once); every
        // delivered event is checked again against the event's own workspace from cached access: no query.
        const subscribe = config.subscribe;
        const perEvent: FieldAuth = { ...auth, scope: 'parent' };
        return {
          ...config,
          subscribe: async (source, args, ctx, info) => {
            if (byObject) await checkObjectAuth(auth, args, ctx);
            else checkAuth(auth, source, args, ctx);
            return subscribe(source, args, ctx, info);
          },
          resolve: (source, args, ctx, info: GraphQLResolveInfo) => {
            checkAuth(perEvent, source, args, ctx);
            return resolve(source, args, ctx, info);
          },
        };
      }
      const guarded: GraphQLFieldConfig<unknown, RequestContext> = {
        ...config,
        resolve: byObject
          ? async (source, args, ctx, info: GraphQLResolveInfo) => {
              await checkObjectAuth(auth, args, ctx, purpose, info);
              return resolve(source, args, ctx, info);
            }
          : (source, args, ctx, info: GraphQLResolveInfo) => {
              checkAuth(auth, source, args, ctx);
              return resolve(source, args, ctx, info);
            },
      };
      return guarded;
    },
  });
}
