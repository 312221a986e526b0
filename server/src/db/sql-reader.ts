import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * What a plain-SQL read outside a transaction needs: the pool's connection. An EntityManager has it, so such a
 * read takes either a request's fork or `RequestContext.reader` (no fork: forking costs more than the read).
 */
export type SqlReader = Pick<EntityManager, 'getConnection'>;
