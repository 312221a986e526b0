import { GraphQLError, type ExecutionResult } from 'graphql';
import type { LiveLimits } from './backpressure';

/** A payload serialised once per view: the JSON text, or null while its execution is still running. */
export interface SharedPayload {
  json: string | null;
  /** Writers waiting for `json` (only while it is null): flushed together when the execution settles. */
  waiting: SocketWriter[] | null;
  /**
   * The whole `next` message per operation id prefix, made once and written to every socket whose operation
   * has that id (clients mostly number their operations alike, so usually one string for all): no string
   * built per socket. The first prefix has a slot, others a map.
   */
  prefix?: string;
  frame?: string;
  frames?: Map<string, string>;
}

/** The websocket as the writer needs it (a `ws` WebSocket). */
export interface WritableSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
}

const OPEN = 1;

/** A flat (sequential) copy of a concatenated string: V8 flattens a string when it is indexed. */
function flat(s: string): string {
  if (s.length > 0) s.charCodeAt(0);
  return s;
}
/** The message `prefix + json + '}'` of a settled payload, made once per distinct prefix. */
export function frameOf(payload: SharedPayload, prefix: string): string {
  if (payload.prefix === prefix) return payload.frame!;
  let frame = payload.frames?.get(prefix);
  if (frame) return frame;
  // Flattened once here, so ws does not flatten a cons string for every socket it is written to.
  frame = flat(prefix + payload.json! + '}');
  if (payload.prefix === undefined) {
    payload.prefix = prefix;
    payload.frame = frame;
  } else (payload.frames ??= new Map()).set(prefix, frame);
  return frame;
}

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
 * One socket's outgoing `next` frames: the shared payload text with the operation id spliced in (one shared
 * message per event, view and operation id: frameOf), written synchronously when the hub hands an event over
 * (no promise, no JSON.stringify and no string built per subscriber). A payload
 * still executing holds the frames behind it (order per socket is log order). Past the socket's bound (bytes
 * its peer has not taken, or frames held here) `onOverflow` closes it (4008).
 */
export class SocketWriter {
  /** Frames behind a payload still executing (made only when one is). */
  private held: Array<{ prefix: string; payload: SharedPayload }> | null = null;
  private overflowed = false;

  constructor(
    private readonly socket: WritableSocket,
    private readonly limits: LiveLimits,
    private readonly onOverflow: (held: { events: number; bytes: number }) => void,
  ) {}

  /** Whether a backlog (a replay) may be written now: the peer has taken most of what was written. */
  ready(): boolean {
    return !this.overflowed && !this.held?.length && this.socket.bufferedAmount < this.limits.maxBufferedBytes / 4;
  }

  /** The start of an operation's `next` frame, made once per operation. */
  static prefix(id: string): string {
    return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  write(prefix: string, payload: SharedPayload): void {
    if (this.overflowed) return;
    if (payload.json !== null && !this.held?.length) this.send(prefix, payload);
    else {
      (this.held ??= []).push({ prefix, payload });
      if (payload.json === null) payload.waiting!.push(this);
      else this.flush();
    }
    this.check();
  }

  /** Sends what is ready, in order, up to the first payload still executing. */
  flush(): void {
    while (this.held?.length && this.held[0]!.payload.json !== null) {
      const { prefix, payload } = this.held.shift()!;
      this.send(prefix, payload);
    }
    this.check();
  }

  private send(prefix: string, payload: SharedPayload): void {
    if (this.overflowed || this.socket.readyState !== OPEN) return;
    this.socket.send(frameOf(payload, prefix));
  }

  private check(): void {
    if (this.overflowed) return;
    const bytes = this.socket.bufferedAmount;
    const events = this.held?.length ?? 0;
    if (events <= this.limits.maxQueuedEvents && bytes <= this.limits.maxBufferedBytes) return;
    this.overflowed = true;
    this.held = null;
    this.onOverflow({ events, bytes });
  }
}
