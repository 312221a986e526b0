/**
 * Carries wake-ups between server processes. At most once: a message can be lost (Redis disconnects), so
 * the bus is never the only copy of an event; the event log in Postgres is, and subscribers read from it.
 */
export type BusListener = (message: string) => void;

export interface EventBus {
  readonly kind: 'in-process' | 'redis';
  publish(channel: string, message: string): Promise<void>;
  /** Returns the function that removes this listener. */
  subscribe(channel: string, listener: BusListener): Promise<() => Promise<void>>;
  /** Whether the bus can carry messages right now (readiness). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}
