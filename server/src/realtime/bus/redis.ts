import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../../observability/logger';
import type { BusListener, EventBus } from './event-bus';

/** Longest wait between reconnect attempts: wake-ups are back to push within a second of Redis' return. */
const MAX_RECONNECT_DELAY_MS = 500;
/** While Redis stays down, one log line per this interval instead of one per attempt. */
const DOWN_LOG_INTERVAL_MS = 30_000;

/**
 * Redis pub/sub between server processes. One publishing connection and one dedicated subscriber
 * connection per process (node-redis needs its own connection for subscriptions); each channel is
 * subscribed once, on its first listener, and released with its last.
 *
 * Redis may be away at start or go away later: nothing here waits for it. The channels this process wants
 * are kept here (not only in node-redis, which forgets a SUBSCRIBE that failed), and every time the
 * subscriber connection becomes ready each wanted channel that is not confirmed is subscribed again.
 * Meanwhile subscribers are served by the hub's poll.
 */
export class RedisBus implements EventBus {
  readonly kind = 'redis' as const;
  private readonly publisher: RedisClientType;
  private readonly subscriber: RedisClientType;
  private readonly listeners = new Map<string, Set<BusListener>>();
  /** Channels Redis confirmed for the current subscriber connection (node-redis resubscribes them itself). */
  private readonly confirmed = new Set<string>();
  private readonly inFlight = new Set<string>();
  private closed = false;
  private lastDownLog = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(url: string, private readonly logger: Logger) {
    const options = {
      url,
      // Keep trying in the background: while Redis is away, queries and mutations go on and readiness says so.
      socket: {
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
        connectTimeout: 2000,
      },
      // A command against a dead connection fails fast instead of queueing without bound.
      disableOfflineQueue: true,
    };
    this.publisher = createClient(options) as RedisClientType;
    this.subscriber = createClient(options) as RedisClientType;
    for (const [name, client] of [['publisher', this.publisher], ['subscriber', this.subscriber]] as const) {
      client.on('error', (err: Error) => this.logDown(name, err));
      client.on('ready', () => this.logger.info({ connection: name }, 'redis connected'));
    }
    this.subscriber.on('ready', () => this.resubscribe());
    // A connection lost takes its confirmations with it: node-redis replays the ones it knows on reconnect,
    // and resubscribe() covers the rest.
    this.subscriber.on('end', () => this.confirmed.clear());
  }

  private logDown(connection: string, err: Error): void {
    const now = Date.now();
    if (now - this.lastDownLog < DOWN_LOG_INTERVAL_MS) return;
    this.lastDownLog = now;
    this.logger.warn({ err: err.message, connection }, 'redis unavailable; retrying in the background (live events are polled meanwhile)');
  }

  /** Starts connecting; resolves when both connections are up (callers need not wait). */
  async connect(): Promise<void> {
    await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
  }

  async publish(channel: string, message: string): Promise<void> {
    try {
      await this.publisher.publish(channel, message);
    } catch (err) {
      // At most once by design: the event is in Postgres; subscribers catch up from the log.
      this.logger.debug({ err: (err as Error).message, channel }, 'redis publish failed');
    }
  }

  private readonly dispatch = (message: string, channel: string): void => {
    for (const l of [...(this.listeners.get(channel) ?? [])]) l(message);
  };

  private ensureSubscribed(channel: string): void {
    if (this.closed || this.confirmed.has(channel) || this.inFlight.has(channel) || !this.subscriber.isReady) return;
    this.inFlight.add(channel);
    this.subscriber.subscribe(channel, this.dispatch).then(
      () => {
        this.inFlight.delete(channel);
        if (this.listeners.has(channel)) {
          this.confirmed.add(channel);
        } else if (this.subscriber.isReady) {
          // Released while the SUBSCRIBE was on its way.
          void this.subscriber.unsubscribe(channel, this.dispatch).catch(() => undefined);
        }
      },
      (err: Error) => {
        this.inFlight.delete(channel);
        this.logger.debug({ err: err.message, channel }, 'redis subscribe failed; will retry');
        this.scheduleRetry();
      },
    );
  }

  /** A failed SUBSCRIBE on a live connection (a timeout) is retried; a dead one is retried on 'ready'. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.resubscribe();
    }, MAX_RECONNECT_DELAY_MS);
    this.retryTimer.unref();
  }

  private resubscribe(): void {
    for (const channel of this.listeners.keys()) this.ensureSubscribed(channel);
  }

  async subscribe(channel: string, listener: BusListener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    this.ensureSubscribed(channel);
    return async () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        const wasConfirmed = this.confirmed.delete(channel);
        if (wasConfirmed && !this.closed && this.subscriber.isReady) {
          await this.subscriber.unsubscribe(channel, this.dispatch).catch(() => undefined);
        }
      }
    };
  }

  /** Whether a channel is subscribed on Redis right now (tests wait on it). */
  isSubscribed(channel: string): boolean {
    return this.confirmed.has(channel);
  }

  async healthy(): Promise<boolean> {
    if (!this.publisher.isReady || !this.subscriber.isReady) return false;
    try {
      return (await this.publisher.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // destroy() also ends a connect loop that is still retrying; close() waits for pending replies.
    await Promise.allSettled(
      [this.publisher, this.subscriber].map(async (client) => (client.isReady ? client.close() : client.destroy())),
    );
  }
}

/** How long a start waits for Redis before going on without it. */
const INITIAL_CONNECT_WAIT_MS = 3_000;

/**
 * Creates the bus and waits a moment for Redis (a normal start is connected when it says ready), but no
 * longer: with Redis down at start the server still listens, `/readyz` says degraded, and the bus connects
 * when Redis comes.
 */
export async function createRedisBus(url: string, logger: Logger, waitMs = INITIAL_CONNECT_WAIT_MS): Promise<RedisBus> {
  const bus = new RedisBus(url, logger);
  const connected = bus.connect().then(
    () => true,
    (err: Error) => {
      // Only a closed bus ends the connect loop (the reconnect strategy never gives up).
      logger.debug({ err: err.message }, 'redis connect ended');
      return false;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), waitMs);
  });
  if (!(await Promise.race([connected, waited]))) {
    logger.warn({ waitedMs: waitMs }, 'redis is not answering: starting without it (degraded); it will connect when it comes');
  }
  clearTimeout(timer);
  return bus;
}
