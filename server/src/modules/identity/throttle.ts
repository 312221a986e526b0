import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, ErrorCode } from '../../graphql/errors';

/**
 * Fixed-window counters in Postgres, shared by every server process (processes stay stateless).
 * Keys name what is counted (an account, an address), never a secret.
 */
export class Throttle {
  async hit(em: EntityManager, key: string, limit: number, windowSeconds: number): Promise<void> {
    const rows = await em.getConnection().execute<{ hits: number }[]>(
      `insert into throttle_windows (key, window_start, hits) values (?, now(), 1)
       on conflict (key) do update set
         hits = case when throttle_windows.window_start < now() - make_interval(secs => ?) then 1 else throttle_windows.hits + 1 end,
         window_start = case when throttle_windows.window_start < now() - make_interval(secs => ?) then now() else throttle_windows.window_start end
       returning hits`,
      [key, windowSeconds, windowSeconds],
    );
    if ((rows[0]?.hits ?? 0) > limit) {
      throw new DomainError(ErrorCode.RATE_LIMITED, 'Too many attempts; try again later', { retryAfterSeconds: windowSeconds });
    }
  }
}
