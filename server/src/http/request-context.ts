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

/**
 * The one way a request context is made, for HTTP requests and graphql-ws operations alike: the principal
 * (already authenticated, or authenticated here from a token) and an EntityManager fork made on first use.
 */
export async function buildContext(
  deps: ContextDeps,
  /** requestId omitted: made on first read (a socket operation rarely logs, and a fresh UUID is a 17-part string). */
  input: { requestId?: string; clientAddress: string; token: string | null; principal?: Principal | null; credential?: string },
): Promise<RequestContext> {
  let em: EntityManager | undefined;
  let principal = input.principal ?? null;
  if (!principal && input.token) {
    // One plain statement on the pool (no fork): the request's EntityManager is made on first use below.
    principal = await deps.services.authentication.principalOf(deps.orm.em, input.token);
    if (!principal) throw invalidCredential();
  }
  const organizationId = principal?.organizationId;
  // The logger child and the memo are made on first use too: a socket's subscription context rarely needs them.
  let logger: Logger | undefined;
  let memo: Map<unknown, unknown> | undefined;
  let requestId = input.requestId;
  // The lazy parts live on the context's prototype, not as its own properties: Apollo copies the context of
  // every HTTP operation with Object.assign (ApolloServer's cloneObject), which would call own getters and so
  // fork an EntityManager, make a request id, a logger child and a memo for every request. The copy keeps the
  // prototype, so it makes them on first use too, and shares them with the original.
  const lazy = {
    get requestId(): string {
      return (requestId ??= requestIdFrom(undefined));
    },
    // Made on first use: a graphql-ws subscription keeps its context for hours and usually never queries.
    get em(): EntityManager {
      if (!em) {
        em = deps.orm.em.fork({ clear: true, useContext: false });
        if (organizationId) em.setFilterParams(TENANT_FILTER, { organizationId });
      }
      return em;
    },
    get connection() {
      return deps.orm.em.getConnection();
    },
    get logger(): Logger {
      return (logger ??= deps.logger.child({ requestId: lazy.requestId }));
    },
    get memo(): Map<unknown, unknown> {
      return (memo ??= new Map());
    },
  };
  const context = Object.assign(Object.create(lazy) as typeof lazy, {
    principal,
    services: deps.services,
    clientAddress: input.clientAddress,
    credential: input.credential ?? input.token ?? undefined,
    live: deps.live,
  }) satisfies RequestContext;
  const release = () => {
    em = undefined;
    memo = undefined;
    logger = undefined;
  };
  releasers.set(context, release);
  releasers.set(lazy, release);
  return context;
}

const releasers = new WeakMap<object, () => void>();

/**
 * Drops what a context loaded so far (its EntityManager with its identity map, its memo and loaders), to be
 * made again on next use: a subscription keeps its context for hours, and what subscribing read (the object
 * it points at, for the @auth check) is not needed by its events.
 */
export function releaseRequestState(context: object): void {
  // A copy of the context (Apollo's) shares its lazy parts through the prototype.
  (releasers.get(context) ?? releasers.get(Object.getPrototypeOf(context) as object))?.();
}
