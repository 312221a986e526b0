import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, ErrorCode } from '../../shared/errors';
import { systemClock, type Clock } from '../../shared/clock';

/**
 * A throttled call: RATE_LIMITED, answered over HTTP with status 429 and `Retry-After` (seconds).
 * graphql-js copies an original error's `extensions` onto the GraphQLError it wraps it in, and Apollo turns
 * `extensions.http` into the response's status and headers (and strips it from the body).
 */
export class RateLimitedError extends DomainError {
  readonly extensions: { code: ErrorCode; http: { status: number; headers: Map<string, string> } };

  constructor(readonly retryAfterSeconds: number) {
    super(ErrorCode.RATE_LIMITED, `Too many attempts; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
    this.extensions = {
      code: ErrorCode.RATE_LIMITED,
      http: { status: 429, headers: new Map([['retry-after', String(retryAfterSeconds)]]) },
    };
  }
}

/**
 * Fixed-window counters in Postgres, shared by every server process (processes stay stateless).
 * Keys name what is counted (an account, an address, a known device), never a secret.
 * Time is the server's clock (injectable: tests move past a window without waiting).
 */
export class Throttle {
  constructor(private readonly clock: Clock = systemClock) {}

  async hit(em: EntityManager, key: string, limit: number, windowSeconds: number): Promise<void> {
    const now = this.clock.now();
    const rows = await em.getConnection().execute<{ hits: number; window_start: Date }[]>(
      `insert into throttle_windows (key, window_start, hits) values (?, ?, 1)
       on conflict (key) do update set
         hits = case when throttle_windows.window_start <= ?::timestamptz - make_interval(secs => ?) then 1 else throttle_windows.hits + 1 end,
         window_start = case when throttle_windows.window_start <= ?::timestamptz - make_interval(secs => ?) then excluded.window_start else throttle_windows.window_start end
       returning hits, window_start`,
      [key, now, now, windowSeconds, now, windowSeconds],
      'all',
      em.getTransactionContext(),
    );
    const row = rows[0];
    if (row && row.hits > limit) {
      const endsAt = new Date(row.window_start).getTime() + windowSeconds * 1000;
      throw new RateLimitedError(Math.max(1, Math.ceil((endsAt - now.getTime()) / 1000)));
    }
  }

  /** Forgets a counter (e.g. an account's failed logins once its owner proved control of the mailbox). */
  async clear(em: EntityManager, key: string): Promise<void> {
    await em.getConnection().execute(`delete from throttle_windows where key = ?`, [key], 'run', em.getTransactionContext());
  }
}
