type Slot<T> = { running: Promise<T> | null; next: Promise<T> | null };

const afterIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const ignore = (): void => undefined;

/**
 * Reads by key, shared by the callers that ask close together: a read starts once the event loop has handled
 * the I/O at hand (setImmediate), so every caller that asks in the meantime (all sockets whose messages arrived
 * in one turn of the loop) shares it; a caller that asks while a read is running joins the next one, never the
 * running one, so no caller gets an answer older than its question. Nothing is kept once no read of a key is
 * waiting or running.
 */
export class CoalescedReads<T> {
  private readonly slots = new Map<string, Slot<T>>();

  read(key: string, run: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { running: null, next: null }));
    if (slot.next) return slot.next;
    const entry = slot;
    const settle = () => {
      if (entry.running === read) entry.running = null;
      if (!entry.running && !entry.next && this.slots.get(key) === entry) this.slots.delete(key);
    };
    const read: Promise<T> = (entry.running ? entry.running.then(ignore, ignore) : Promise.resolve())
      .then(afterIo)
      .then(() => {
        entry.next = null;
        entry.running = read;
        return run();
      });
    entry.next = read;
    read.then(settle, settle);
    return read;
  }
}
