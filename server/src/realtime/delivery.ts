import { GraphQLError, type ExecutionResult } from 'graphql';
import type { LiveLimits } from './backpressure';

/** A payload serialised once per view: the JSON text, or null while its execution is still running. */
export interface SharedPayload {
  json: string | null;
  /** Writers waiting for `json` (only while it is null): flushed together when the execution settles. */
  waiting: SocketWriter[] | null;
}

/** The websocket as the writer needs it (a `ws` WebSocket). */
export interface WritableSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
}

const OPEN = 1;

/**
 * Serialises an execution result once for every subscriber that shares it: a plain result at once, a pending
 * one when it settles (then every writer waiting on it is flushed, in one callback, not one per socket).
 */
export function sharePayload(result: ExecutionResult | Promise<ExecutionResult>, format: (r: ExecutionResult) => ExecutionResult): SharedPayload {
  if (!(result instanceof Promise)) return { json: JSON.stringify(format(result)), waiting: null };
  const shared: SharedPayload = { json: null, waiting: [] };
  const settle = (json: string) => {
    shared.json = json;
    const waiting = shared.waiting ?? [];
    shared.waiting = null;
    for (const writer of waiting) writer.flush();
  };
  result.then(
    (r) => settle(JSON.stringify(format(r))),
    (err: unknown) => settle(JSON.stringify(format({ errors: [new GraphQLError((err as Error)?.message ?? String(err), { originalError: err as Error })] }))),
  );
  return shared;
}

/**
 * One socket's outgoing `next` frames: the shared payload text with the operation id spliced in, written
 * synchronously when the hub hands an event over (no promise and no JSON.stringify per subscriber). A payload
 * still executing holds the frames behind it (order per socket is log order). Past the socket's bound (bytes
 * its peer has not taken, or frames held here) `onOverflow` closes it (4008).
 */
export class SocketWriter {
  private readonly held: Array<{ prefix: string; payload: SharedPayload }> = [];
  private overflowed = false;

  constructor(
    private readonly socket: WritableSocket,
    private readonly limits: LiveLimits,
    private readonly onOverflow: (held: { events: number; bytes: number }) => void,
  ) {}

  /** Whether a backlog (a replay) may be written now: the peer has taken most of what was written. */
  ready(): boolean {
    return !this.overflowed && this.held.length === 0 && this.socket.bufferedAmount < this.limits.maxBufferedBytes / 4;
  }

  /** The start of an operation's `next` frame, made once per operation. */
  static prefix(id: string): string {
    return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  write(prefix: string, payload: SharedPayload): void {
    if (this.overflowed) return;
    if (payload.json !== null && this.held.length === 0) this.send(prefix, payload.json);
    else {
      this.held.push({ prefix, payload });
      if (payload.json === null) payload.waiting!.push(this);
      else this.flush();
    }
    this.check();
  }

  /** Sends what is ready, in order, up to the first payload still executing. */
  flush(): void {
    while (this.held.length && this.held[0]!.payload.json !== null) {
      const { prefix, payload } = this.held.shift()!;
      this.send(prefix, payload.json!);
    }
    this.check();
  }

  private send(prefix: string, json: string): void {
    if (this.overflowed || this.socket.readyState !== OPEN) return;
    this.socket.send(prefix + json + '}');
  }

  private check(): void {
    if (this.overflowed) return;
    const bytes = this.socket.bufferedAmount;
    if (this.held.length <= this.limits.maxQueuedEvents && bytes <= this.limits.maxBufferedBytes) return;
    this.overflowed = true;
    const events = this.held.length;
    this.held.length = 0;
    this.onOverflow({ events, bytes });
  }
}
