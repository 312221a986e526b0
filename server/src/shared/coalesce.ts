type Slot<T> = { running: Promise<T> | null; next: Promise<T> | null; startedAt: number };

const afterIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const after = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ignore = (): void => undefined;

/**
 * Reads by key, shared by the callers that ask close together: a read starts once the event loop has handled
 * the I/O at hand (setImmediate), so every caller that asks in the meantime (all sockets whose messages arrived
 * in one turn of the loop) shares it; a caller that asks while a read is running joins the next one, never the
 * running one, so no caller gets an answer older than its question. With `spacingMs`, a key's next read also
 * starts no sooner than that long after its previous one started: only back-to-back reads wait (a burst of
 * subscribers shares one read per interval), a read after a quiet spell starts at once. Nothing is kept once
 * no read of a key is waiting or running.
 */
export class CoalescedReads<T> {
  private readonly slots = new Map<string, Slot<T>>();

  constructor(private readonly spacingMs = 0) {}

  read(key: string, run: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { running: null, next: null, startedAt: -Infinity }));
    if (slot.next) return slot.next;
    const entry = slot;
    const settle = () => {
      if (entry.running === read) entry.running = null;
      // Kept while the spacing still applies to the next read; a later caller then finds no slot and starts at once.
      if (!entry.running && !entry.next && this.slots.get(key) === entry) {
        const wait = entry.startedAt + this.spacingMs - performance.now();
        if (wait <= 0) this.slots.delete(key);
        else setTimeout(() => !entry.running && !entry.next && this.slots.get(key) === entry && this.slots.delete(key), wait).unref();
      }
    };
    const read: Promise<T> = (entry.running ? entry.running.then(ignore, ignore) : Promise.resolve())
      .then(() => {
        const wait = entry.startedAt + this.spacingMs - performance.now();
        return wait > 0 ? after(wait) : afterIo();
      })
      .then(() => {
        entry.next = null;
        entry.running = read;
        entry.startedAt = performance.now();
        return run();
      });
    entry.next = read;
    read.then(settle, settle);
    return read;
  }
}
