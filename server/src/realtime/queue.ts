/** A push queue exposed as an async iterator: what a subscription hands to graphql-ws. */
export class PushQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private done = false;
  private error: unknown = null;

  /** When set, items go straight here (synchronously) instead of waiting for `next()`: see shared-execution.ts. */
  private sink: ((item: T) => void) | null = null;

  constructor(private readonly onClose: () => void) {}

  /** Hands every later item (and those already queued) to `sink` as it is pushed; `next()` then only reports the end. */
  drainTo(sink: (item: T) => void): void {
    this.sink = sink;
    for (const item of this.items.splice(0)) sink(item);
  }

  /** Items pushed and not yet taken (what backpressure bounds). */
  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.sink) return this.sink(item);
    const w = this.waiting.shift();
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
    this.onClose();
    for (const w of this.waiting.splice(0)) {
      if (this.error) w.reject(this.error);
      else w.resolve({ value: undefined as never, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.done) {
      if (this.error) {
        const e = this.error;
        this.error = null;
        return Promise.reject(e);
      }
      return Promise.resolve({ value: undefined as never, done: true });
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
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
