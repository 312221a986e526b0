import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../../observability/logger';
import type { BusListener, EventBus } from './event-bus';

/**
 * Redis pub/sub between server processes. One publishing connection and one dedicated subscriber
 * connection per process (node-redis needs its own connection for subscriptions); each channel is
 * subscribed once, on its first listener, and released with its last.
 */
export class RedisBus implements EventBus {
  readonly kind = 'redis' as const;
  private readonly publisher: RedisClientType;
  private readonly subscriber: RedisClientType;
  private readonly listeners = new Map<string, Set<BusListener>>();
  private closed = false;

  constructor(url: string, private readonly logger: Logger) {
    const options = {
      url,
      // Keep trying in the background: while Redis is away, queries and mutations go on and readiness says so.
      socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000), connectTimeout: 2000 },
      // A command against a dead connection fails fast instead of queueing without bound.
      disableOfflineQueue: true,
    };
    this.publisher = createClient(options) as RedisClientType;
    this.subscriber = createClient(options) as RedisClientType;
    for (const [name, client] of [['publisher', this.publisher], ['subscriber', this.subscriber]] as const) {
      client.on('error', (err: Error) => this.logger.warn({ err: err.message, connection: name }, 'redis connection error'));
    }
  }

  async connect(): Promise<void> {
    await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
  }

  async publish(channel: string, message: string): Promise<void> {
    try {
      await this.publisher.publish(channel, message);
    } catch (err) {
      // At most once by design: the event is in Postgres; subscribers catch up from the log.
      this.logger.warn({ err: (err as Error).message, channel }, 'redis publish failed');
    }
  }

  async subscribe(channel: string, listener: BusListener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) {
      this.listeners.set(channel, (set = new Set()));
      await this.subscriber.subscribe(channel, (message) => {
        for (const l of [...(this.listeners.get(channel) ?? [])]) l(message);
      });
    }
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        if (!this.closed && this.subscriber.isReady) await this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
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
    await Promise.allSettled([this.publisher.close(), this.subscriber.close()]);
  }
}

export async function createRedisBus(url: string, logger: Logger): Promise<RedisBus> {
  const bus = new RedisBus(url, logger);
  await bus.connect();
  return bus;
}
