import type { ExecutionResultShape, LiveConnection, LiveOperation } from './connection.js';
import { SwitchboardError, type GraphQLErrorShape } from './errors.js';

/** A live subscription: an async iterator of results that resumes on its own, and its resume position. */
export interface LiveSubscription<R> extends AsyncIterableIterator<R> {
  /**
   * The position to resume from: the last event's `cursor` (or a start cursor the server sent). Null until
   * the server has sent one; store it to continue after a restart of your program (`subscribe(..., { after })`).
   */
  readonly cursor: string | null;
  /** Ends the subscription (the same as breaking out of `for await`). */
  close(): void;
}

export interface LiveSubscriptionOptions {
  query: string;
  variables: Record<string, unknown>;
  /** Whether the operation declares `$after`: only then is the cursor sent on a resume. */
  acceptsAfter: boolean;
  after: string | null;
  resume: boolean;
  /** Backoff before resubscribing after an UNAVAILABLE error. */
  retryDelayMs: (attempt: number) => number;
}

/**
 * The resume position a result carries: the event's `cursor`, else a `startCursor` (the server's start
 * position, for a stream that has had no event yet), on the root field or in `extensions`.
 */
export function positionOf(result: ExecutionResultShape): string | null {
  const pick = (value: unknown): string | null => {
    if (!value || typeof value !== 'object') return null;
    const { cursor, startCursor } = value as { cursor?: unknown; startCursor?: unknown };
    return typeof cursor === 'string' ? cursor : typeof startCursor === 'string' ? startCursor : null;
  };
  if (result.data && typeof result.data === 'object') {
    for (const root of Object.values(result.data as Record<string, unknown>)) {
      const found = pick(root);
      if (found) return found;
    }
  }
  return pick(result.extensions);
}

/** One subscription: the connection (re)subscribes it; it keeps its cursor and feeds its iterator. */
export class LiveSubscriptionImpl<R> implements LiveSubscription<R>, LiveOperation {
  cursor: string | null;
  private readonly values: R[] = [];
  private readonly waiting: Array<{ resolve: (r: IteratorResult<R>) => void; reject: (e: unknown) => void }> = [];
  private done = false;
  private failure: SwitchboardError | null = null;
  private unavailableAttempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly connection: LiveConnection,
    private readonly options: LiveSubscriptionOptions,
  ) {
    this.cursor = options.after;
  }

  /** Ended (by the caller, the server or a failure): nothing more to (re)subscribe. */
  get isDone(): boolean {
    return this.done;
  }

  payload(): { query: string; variables: Record<string, unknown> } {
    const variables = { ...this.options.variables };
    if (this.options.acceptsAfter && this.cursor) variables.after = this.cursor;
    return { query: this.options.query, variables };
  }

  next(): Promise<IteratorResult<R>> {
    if (this.values.length) return Promise.resolve({ value: this.values.shift()!, done: false });
    if (this.done) return this.failure ? Promise.reject(this.failure) : Promise.resolve({ value: undefined as never, done: true });
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  onNext(result: ExecutionResultShape): void {
    if (this.done) return;
    if (result.errors?.length && (result.data === null || result.data === undefined)) return this.onError(result.errors);
    const position = positionOf(result);
    if (position) this.cursor = position;
    this.unavailableAttempts = 0;
    // A message with only a start position (no data) moves the cursor and is not an event.
    if (result.data === null || result.data === undefined) return;
    const value = result.data as R;
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value, done: false });
    else this.values.push(value);
  }

  onError(errors: readonly GraphQLErrorShape[]): void {
    if (this.done) return;
    // The server is done with this operation id (a `complete` may still follow an errors-only result).
    this.connection.forget(this);
    const error = SwitchboardError.from(errors);
    if (error.code === 'UNAVAILABLE' && this.options.resume) {
      // The server could not carry the stream just now (e.g. could not re-check access): ask again, from the cursor.
      const delay = this.options.retryDelayMs(++this.unavailableAttempts);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (!this.done) this.connection.resubscribe(this);
      }, delay);
      return;
    }
    this.connection.remove(this);
    this.finish(error);
  }

  onComplete(): void {
    if (this.done) return;
    this.connection.remove(this);
    this.finish(new SwitchboardError('SUBSCRIPTION_COMPLETED', 'The server ended this subscription'));
  }

  onDropped(closeCode: number, reason: string): boolean {
    if (this.options.resume) return true;
    this.finish(new SwitchboardError('NETWORK_ERROR', `The connection was lost (${closeCode}${reason ? `: ${reason}` : ''})`, [], undefined, closeCode));
    return false;
  }

  onFail(error: SwitchboardError): void {
    this.finish(error);
  }

  onEnd(): void {
    this.finish(null);
  }

  close(): void {
    this.connection.remove(this);
    this.finish(null);
  }

  return(): Promise<IteratorResult<R>> {
    this.values.length = 0;
    this.close();
    return Promise.resolve({ value: undefined as never, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<R>> {
    this.close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the iterator: values already received are still read first, then the error (or the end). */
  private finish(error: SwitchboardError | null): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const w of this.waiting.splice(0)) (error ? w.reject(error) : w.resolve({ value: undefined as never, done: true }));
  }
}
