import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Principal } from '../modules/identity/principal';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../shared/errors';
import { codedError } from '../graphql/errors';
import { TENANT_FILTER } from '../db/tenant';
import type { Logger } from '../observability/logger';
import type { Services } from '../services';
import type { LiveDeps } from '../realtime/live';
import type { SqlReader } from '../db/sql-transaction';

export interface ContextDeps {
  orm: MikroORM;
  services: Services;
  logger: Logger;
  live?: LiveDeps;
}

/** "Bearer <token>" (or the bare token, as graphql-ws clients often send it) -> token. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const trimmed = header.trim();
  const match = /^Bearer\s+(\S+)$/i.exec(trimmed);
  if (match) return match[1]!;
  return /^\S+$/.test(trimmed) && trimmed.length > 0 ? trimmed : null;
}

export function invalidCredential(): GraphQLError {
  return codedError(ErrorCode.UNAUTHENTICATED, 'The credential is invalid, expired or revoked', { httpStatus: 401 });
}

const REQUEST_ID = /^[\w.-]{1,64}$/;
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** What a context makes on first use, shared by a context and Apollo's copies of it (see OperationContext). */
interface LazyParts {
  deps: ContextDeps;
  organizationId: string | undefined;
  requestId?: string;
  em?: EntityManager;
  logger?: Logger;
  memo?: Map<unknown, unknown>;
}

const LAZY = Symbol('lazy');

/**
 * A request context. Its lazy parts (an EntityManager fork, a request id, a logger child, a memo) are made on
 * first use: a graphql-ws subscription keeps its context for hours and rarely needs them. They are getters of
 * the class, not own properties: Apollo copies the context of every HTTP operation with Object.assign
 * (ApolloServer's cloneObject), which would call own getters and make them all for every request; the copy
 * keeps the prototype and the (own, enumerable) LAZY reference, so it makes them on first use too and shares
 * them with the original. One class for every context: no object literal with getters nor a fresh prototype
 * per context (each made V8 build a new prototype and left every `ctx.x` read megamorphic).
 */
class OperationContext implements RequestContext {
  [LAZY]: LazyParts;

  constructor(
    lazy: LazyParts,
    public principal: Principal | null,
    public services: Services,
    public clientAddress: string,
    public credential: string | undefined,
    public live: LiveDeps | undefined,
  ) {
    this[LAZY] = lazy;
  }

  get requestId(): string {
    const lazy = this[LAZY];
    return (lazy.requestId ??= requestIdFrom(undefined));
  }

  get em(): EntityManager {
    const lazy = this[LAZY];
    if (!lazy.em) {
      lazy.em = lazy.deps.orm.em.fork({ clear: true, useContext: false });
      if (lazy.organizationId) lazy.em.setFilterParams(TENANT_FILTER, { organizationId: lazy.organizationId });
    }
    return lazy.em;
  }

  /** The root EntityManager, typed down to its connection: no fork, and nothing else of it is reachable. */
  get reader(): SqlReader {
    return this[LAZY].deps.orm.em;
  }

  get logger(): Logger {
    const lazy = this[LAZY];
    return (lazy.logger ??= lazy.deps.logger.child({ requestId: this.requestId }));
  }

  get memo(): Map<unknown, unknown> {
    const lazy = this[LAZY];
    return (lazy.memo ??= new Map());
  }
}

/**
 * The one way a request context is made, for HTTP requests and graphql-ws operations alike: the principal
 * (already authenticated, or authenticated here from a token) and an EntityManager fork made on first use.
 */
export async function buildContext(
  deps: ContextDeps,
  /** requestId omitted: made on first read (a socket operation rarely logs, and a fresh UUID is a 17-part string). */
  input: { requestId?: string; clientAddress: string; token: string | null; principal?: Principal | null; credential?: string },
): Promise<RequestContext> {
  let principal = input.principal ?? null;
  if (!principal && input.token) {
    // One plain statement on the pool (no fork): the request's EntityManager is made on first use.
    principal = await deps.services.authentication.principalOf(deps.orm.em, input.token);
    if (!principal) throw invalidCredential();
  }
  const lazy: LazyParts = { deps, organizationId: principal?.organizationId, requestId: input.requestId };
  return new OperationContext(lazy, principal, deps.services, input.clientAddress, input.credential ?? input.token ?? undefined, deps.live);
}

/**
 * Drops what a context loaded so far (its EntityManager with its identity map, its memo and loaders), to be
 * made again on next use: a subscription keeps its context for hours, and what subscribing read (the object
 * it points at, for the @auth check) is not needed by its events.
 */
export function releaseRequestState(context: object): void {
  // A copy of the context (Apollo's) shares its lazy parts through the LAZY reference.
  const lazy = (context as Partial<OperationContext>)[LAZY];
  if (!lazy) return;
  lazy.em = undefined;
  lazy.memo = undefined;
  lazy.logger = undefined;
}
