import type { EntityManager } from '@mikro-orm/postgresql';
import type { SqlReader } from '../db/sql-transaction';
import type { Logger } from '../observability/logger';
import type { Principal } from '../modules/identity/principal';
import type { Services } from '../services';
import type { LiveDeps } from '../realtime/live';

/** Built per HTTP request and per graphql-ws operation. */
export interface RequestContext {
  requestId: string;
  /** A fork of the EntityManager for this request, tenant filter set to the principal's organization. */
  em: EntityManager;
  /**
   * The pool's connection for plain-SQL reads outside any transaction (list pages, rows by id): no
   * EntityManager fork, which costs more than such a read. Entities and writes go through `em`.
   */
  reader: SqlReader;
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
