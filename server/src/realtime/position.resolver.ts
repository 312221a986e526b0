import { Ctx, Query, Resolver } from 'type-graphql';
import { Auth } from '../graphql/auth';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../shared/errors';
import { liveError } from '../graphql/errors';
import { safeHead } from './event-log';
import { encodeEventCursor } from './events';

@Resolver()
export class LivePositionResolver {
  /**
   * Where the live event log stands now. A client that has seen no event yet subscribes with
   * `after: liveCursor` and resumes from it after a reconnect: nothing committed in between is missed.
   */
  @Query(() => String, {
    description:
      'The current position of the live event log: subscribe with `after` set to it and every event committed after this answer is delivered, across reconnects, with no gap.',
  })
  @Auth([])
  async liveCursor(@Ctx() ctx: RequestContext): Promise<string> {
    if (!ctx.live) throw liveError(ErrorCode.UNAVAILABLE, 'Live events are not available here');
    const position = await safeHead(ctx.live.orm.em.fork({ clear: true, useContext: false }));
    return encodeEventCursor(position.xid, position.id);
  }
}
