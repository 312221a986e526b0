const always = (): boolean => true;

/** A push queue exposed as an async iterator: what a subscription hands to graphql-ws. */
export class PushQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  /** `next()` calls waiting for an item or the end (made on the first). */
  private waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> | null = null;
  private done = false;
  private error: unknown = null;

  /** When set, items go straight here (synchronously) instead of waiting for `next()`: see shared-execution.ts. */
  private sink: ((item: T) => void) | null = null;
  /** Whether the sink can take more now (a replay is fed at the socket's pace, not all at once). */
  private ready: () => boolean = always;
  /** Replayed items still queued (they come first, are fed at the socket's pace and are not bounded as live ones). */
  private backlog = 0;
  private feeding: NodeJS.Timeout | null = null;
  /** Someone waiting for the queue to run low (a replay reading its next page). */
  private low: { below: number; resolve: () => void } | null = null;

  /** `owner.closed()` runs once when the stream ends (an object, not a closure: one less allocation per subscription). */
  constructor(private readonly owner: { closed(): void }) {}

  /** Hands every later item (and those already queued) to `sink` as it is pushed; `next()` then only reports the end. */
  drainTo(sink: (item: T) => void, ready: () => boolean = always): void {
    this.sink = sink;
    this.ready = ready;
    this.backlog = this.items.length;
    this.feed();
  }

  /** Queues replayed items (a page of a replay), fed after what is queued, at the sink's pace. */
  pushReplay(items: readonly T[]): void {
    if (this.done || items.length === 0) return;
    for (const item of items) this.items.push(item);
    this.backlog += items.length;
    if (this.sink && !this.feeding) this.feed();
  }

  /** Resolves once fewer than `below` items are queued, or the stream has ended. */
  whenBelow(below: number): Promise<void> {
    if (this.done || this.items.length < below) return Promise.resolve();
    return new Promise((resolve) => {
      this.low = { below, resolve };
    });
  }

  private checkLow(): void {
    if (this.low && (this.done || this.items.length < this.low.below)) {
      const { resolve } = this.low;
      this.low = null;
      resolve();
    }
  }

  get ended(): boolean {
    return this.done;
  }

  /** Feeds queued items to the sink in order while it can take them; checks again shortly when it cannot. */
  private feed(): void {
    this.feeding = null;
    while (this.items.length && !this.done) {
      if (!this.ready()) {
        this.feeding = setTimeout(() => this.feed(), 10);
        return;
      }
      if (this.backlog > 0) this.backlog--;
      this.sink!(this.items.shift()!);
    }
    this.checkLow();
  }

  /** Items pushed live and not yet taken (what backpressure bounds; a replay still being fed is not counted). */
  get size(): number {
    return this.items.length - this.backlog;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.sink) {
      // Behind a replay still being fed, a live item waits its turn (order is log order); it never goes to a
      // waiting `next()`, which with a sink only reports the end.
      if (this.items.length === 0) this.sink(item);
      else this.items.push(item);
      return;
    }
    const w = this.waiting?.shift();
    if (w) w.resolve({ value: item, done: false });
    else this.items.push(item);
  }

  /** Ends the stream with an error (graphql-ws sends it to the client as the operation's error). */
  fail(error: unknown): void {
    if (this.done) return;
    this.error = error;
    this.finish();
  }

  end(): void {
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.feeding) clearTimeout(this.feeding);
    if (this.sink) {
      // What was not yet fed to the socket is dropped with the stream (a resume replays it from the log).
      this.items.length = 0;
      this.backlog = 0;
    }
    this.checkLow();
    this.owner.closed();
    const waiting = this.waiting ?? [];
    this.waiting = null;
    for (const w of waiting) {
      if (this.error) w.reject(this.error);
      else w.resolve({ value: undefined as never, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    // With a sink, items are the sink's (fed at its pace): the iterator only reports the end.
    if (this.items.length && !this.sink) {
      if (this.backlog > 0) this.backlog--;
      const value = this.items.shift()!;
      this.checkLow();
      return Promise.resolve({ value, done: false });
    }
    if (this.done) {
      if (this.error) {
        const e = this.error;
        this.error = null;
        return Promise.reject(e);
      }
      return Promise.resolve({ value: undefined as never, done: true });
    }
    return new Promise((resolve, reject) => (this.waiting ??= []).push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.finish();
    return Promise.resolve({ value: undefined as never, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    this.fail(error);
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
