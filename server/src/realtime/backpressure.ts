/**
 * How much a socket may fall behind before the server gives up on it. A subscriber that stops reading (a
 * frozen tab, a stalled network, a client that cannot keep up) would otherwise hold every event sent to it in
 * this process's memory. Past either bound its socket is closed with 4008 (ServerCloseCode.SLOW_CONSUMER), its
 * subscriptions are dropped at once, and the client resumes from its cursor on a new socket: the event log
 * holds what it missed, not this process.
 */
export interface LiveLimits {
  /** Events held for one socket (queued for graphql-ws, or buffered while its credential is re-checked). */
  maxQueuedEvents: number;
  /** Bytes written to one socket that the peer has not taken yet (ws `bufferedAmount`). */
  maxBufferedBytes: number;
}

/**
 * Well above a healthy burst: the hub hands out at most 500 events per read (hub.ts), and a reader on a fast
 * link drains them before the next read.
 */
export const DEFAULT_LIVE_LIMITS: LiveLimits = { maxQueuedEvents: 2_000, maxBufferedBytes: 4 * 1024 * 1024 };
