import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../observability/logger';
import type { Access } from '../modules/identity/access';
import type { Services } from '../services';
import type { LiveDeps } from '../realtime/live';

/** Who is calling: a user through a session, or an integrator through an API key. */
export interface Principal {
  kind: 'user' | 'apiKey';
  /** The user, or for an API key the user who created it (actions are attributed to the key). */
  userId: string;
  organizationId: string;
  sessionId?: string;
  apiKeyId?: string;
  access: Access;
}

/** Built per HTTP request and per graphql-ws operation. */
export interface RequestContext {
  requestId: string;
  /** A fork of the EntityManager for this request, tenant filter set to the principal's organization. */
  em: EntityManager;
  principal: Principal | null;
  services: Services;
  logger: Logger;
  /** The caller's network address (throttling login and invitation acceptance). */
  clientAddress: string;
  /** Per-request memo (DataLoaders and the like), dropped with the request. */
  memo: Map<unknown, unknown>;
  /** The bearer credential of a socket (subscriptions re-check it when the user's access changes). */
  credential?: string;
  /** The live-event machinery (subscriptions). */
  live?: LiveDeps;
}
