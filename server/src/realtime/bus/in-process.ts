import type { BusListener, EventBus } from './event-bus';

/** One server process, no extra services: listeners are called on the next tick, like a network would. */
export class InProcessBus implements EventBus {
  readonly kind = 'in-process' as const;
  private readonly listeners = new Map<string, Set<BusListener>>();

  async publish(channel: string, message: string): Promise<void> {
    const set = this.listeners.get(channel);
    if (!set) return;
    for (const listener of [...set]) queueMicrotask(() => listener(message));
  }

  async subscribe(channel: string, listener: BusListener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(channel);
    };
  }

  async healthy(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
