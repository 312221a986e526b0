import { closeOutcome, CloseCodes } from './close-codes.js';
import { SwitchboardError, type GraphQLErrorShape } from './errors.js';

/** The graphql-ws protocol (graphql-transport-ws): the same one the server speaks through graphql-ws. */
export const GRAPHQL_TRANSPORT_WS_PROTOCOL = 'graphql-transport-ws';

/** What the SDK needs of a WebSocket: the browser's, or `WebSocket` from the `ws` package on Node 20. */
interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the socket without waiting for the peer's close frame. */
  terminate?(): void;
}
type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
const OPEN = 1;

export interface ExecutionResultShape {
  data?: unknown;
  errors?: readonly GraphQLErrorShape[];
  extensions?: Record<string, unknown>;
}

/** One live operation as the connection sees it; a LiveSubscription implements it. */
export interface LiveOperation {
  /** The subscribe payload, built at each (re)subscribe: a resumed operation asks from its own last cursor. */
  payload(): { query: string; variables: Record<string, unknown> };
  onNext(result: ExecutionResultShape): void;
  /** The server refused or ended the operation with GraphQL errors. */
  onError(errors: readonly GraphQLErrorShape[]): void;
  /** The server completed the operation. */
  onComplete(): void;
  /** The socket dropped and will be reopened: return false to leave (the operation has then ended itself). */
  onDropped(closeCode: number, reason: string): boolean;
  /** The connection cannot go on (a fatal close, attempts used up): end with this error. */
  onFail(error: SwitchboardError): void;
  /** The client was disposed: end normally. */
  onEnd(): void;
}

export type ConnectionChange =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected' }
  | { state: 'reconnecting'; closeCode: number; reason: string; attempt: number; delayMs: number }
  | { state: 'closed'; closeCode: number; error?: SwitchboardError };

export interface ConnectionOptions {
  url: string;
  webSocketImpl?: unknown;
  connectionParams: Record<string, unknown>;
  retry: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number };
  /** Ping the server when this long passes without a message; no pong within as long again drops the socket. */
  keepAliveMs: number;
  /** Messages per second the SDK sends at most (the server closes a socket past 50/s with 4429). */
  maxMessagesPerSecond: number;
  onChange?: (change: ConnectionChange) => void;
}

/**
 * One websocket per client and the one reconnect loop: every live operation is (re)subscribed here, after
 * each connection_ack, with the payload it gives at that moment (its own cursor). A transient close reopens
 * the socket with backoff; a fatal close fails every operation with a typed error. Nothing ends quietly.
 */
export class LiveConnection {
  /** Live operations and their id on the current socket (null while not subscribed on it). */
  private readonly ops = new Map<LiveOperation, string | null>();
  private readonly byId = new Map<string, LiveOperation>();
  private socket: WebSocketLike | null = null;
  private acknowledged = false;
  private attempt = 0;
  private nextId = 0;
  private disposed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private lazyCloseTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  private keepAliveTimer: ReturnType<typeof setTimeout> | null = null;
  private awaitingPong = false;
  private readonly outbox: Array<{ id?: string; text: string }> = [];
  private readonly sentAt: number[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: ConnectionOptions) {}

  add(op: LiveOperation): void {
    if (this.disposed) return op.onEnd();
    this.ops.set(op, null);
    this.clearTimer('lazyCloseTimer');
    if (this.socket && this.acknowledged) this.subscribe(op);
    else if (!this.socket && !this.reconnectTimer) this.connect();
  }

  remove(op: LiveOperation): void {
    if (!this.ops.has(op)) return;
    const id = this.ops.get(op);
    this.ops.delete(op);
    if (id) {
      this.byId.delete(id);
      const queued = this.outbox.findIndex((m) => m.id === id);
      if (queued >= 0) this.outbox.splice(queued, 1);
      else this.send({ id, type: 'complete' });
    }
    if (this.ops.size === 0) this.scheduleLazyClose();
  }

  /** Closes the socket and ends every operation normally. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const name of ['reconnectTimer', 'lazyCloseTimer'] as const) this.clearTimer(name);
    this.drop(CloseCodes.NORMAL, 'Client disposed');
    const ops = [...this.ops.keys()];
    this.ops.clear();
    for (const op of ops) op.onEnd();
  }

  private connect(): void {
    this.clearTimer('reconnectTimer');
    const Impl = (this.options.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketConstructor | undefined;
    if (!Impl) return this.failAll(new SwitchboardError('NETWORK_ERROR', 'No WebSocket implementation: pass webSocketImpl (e.g. WebSocket from the "ws" package on Node 20)'), CloseCodes.ABNORMAL);
    this.options.onChange?.({ state: 'connecting', attempt: this.attempt });
    let socket: WebSocketLike;
    try {
      socket = new Impl(this.options.url, GRAPHQL_TRANSPORT_WS_PROTOCOL);
    } catch (err) {
      // A malformed URL, a blocked port: no later attempt can do better.
      return this.failAll(new SwitchboardError('NETWORK_ERROR', `Could not open a websocket to ${this.options.url}: ${(err as Error).message}`), CloseCodes.ABNORMAL);
    }
    this.socket = socket;
    this.acknowledged = false;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.send({ type: 'connection_init', payload: this.options.connectionParams });
      this.handshakeTimer = setTimeout(() => this.abandon(CloseCodes.ACK_TIMEOUT, 'Connection acknowledgement timeout'), 10_000);
    };
    socket.onmessage = (event) => {
      if (socket === this.socket) this.receive(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.detach();
      this.closed(event.code, event.reason);
    };
    // A failed connection also closes (1006); the close decides.
    socket.onerror = () => undefined;
  }

  private receive(data: unknown): void {
    let message: { type?: unknown; id?: unknown; payload?: unknown };
    try {
      message = JSON.parse(String(data)) as typeof message;
    } catch {
      return this.abandon(4004, 'Bad response');
    }
    this.armKeepAlive();
    const op = typeof message.id === 'string' ? this.byId.get(message.id) : undefined;
    switch (message.type) {
      case 'connection_ack':
        this.clearTimer('handshakeTimer');
        this.acknowledged = true;
        this.attempt = 0;
        this.options.onChange?.({ state: 'connected' });
        for (const pending of this.ops.keys()) this.subscribe(pending);
        if (this.ops.size === 0) this.scheduleLazyClose();
        return;
      case 'ping':
        return this.send({ type: 'pong' });
      case 'pong':
        this.awaitingPong = false;
        return;
      case 'next':
        op?.onNext((message.payload ?? {}) as ExecutionResultShape);
        return;
      case 'error':
        if (!op) return;
        this.forget(op);
        op.onError(Array.isArray(message.payload) ? (message.payload as GraphQLErrorShape[]) : [{ message: 'Subscription failed' }]);
        return;
      case 'complete':
        if (!op) return;
        this.forget(op);
        op.onComplete();
        return;
    }
  }

  private subscribe(op: LiveOperation): void {
    const id = String(++this.nextId);
    this.ops.set(op, id);
    this.byId.set(id, op);
    this.send({ id, type: 'subscribe', payload: op.payload() }, id);
  }

  /** The server is done with the operation's current id; the operation decides whether it stays or leaves. */
  forget(op: LiveOperation): void {
    const id = this.ops.get(op);
    if (id) this.byId.delete(id);
    if (this.ops.has(op)) this.ops.set(op, null);
  }

  /** Resubscribes an operation on the current socket (e.g. after an UNAVAILABLE error), or on the next one. */
  resubscribe(op: LiveOperation): void {
    if (!this.ops.has(op) || this.ops.get(op)) return;
    if (this.socket && this.acknowledged) this.subscribe(op);
  }

  private closed(code: number, reason: string): void {
    if (this.disposed) return;
    if (this.ops.size === 0) return;
    const outcome = closeOutcome(code);
    if (outcome.kind === 'fail') {
      const error = new SwitchboardError(outcome.code, `The server closed the connection (${code}${reason ? `: ${reason}` : ''})`, [], undefined, code);
      return this.failAll(error, code);
    }
    for (const op of [...this.ops.keys()]) if (!op.onDropped(code, reason)) this.ops.delete(op);
    if (this.ops.size === 0) return;
    this.attempt += 1;
    const { initialDelayMs, maxDelayMs, maxAttempts } = this.options.retry;
    if (this.attempt > maxAttempts) {
      return this.failAll(new SwitchboardError('NETWORK_ERROR', `The connection was lost (${code}) and ${maxAttempts} reconnection attempts failed`, [], undefined, code), code);
    }
    const delayMs = Math.round(Math.min(maxDelayMs, initialDelayMs * 2 ** (this.attempt - 1) * (0.75 + Math.random() * 0.5)));
    this.options.onChange?.({ state: 'reconnecting', closeCode: code, reason, attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.disposed && this.ops.size > 0) this.connect();
    }, delayMs);
  }

  private failAll(error: SwitchboardError, code: number): void {
    const ops = [...this.ops.keys()];
    this.ops.clear();
    this.byId.clear();
    this.options.onChange?.({ state: 'closed', closeCode: code, error });
    for (const op of ops) op.onFail(error);
  }

  /** Gives up on the current socket at once (no waiting for a close frame from a peer that may be gone). */
  private abandon(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.detach();
    try {
      if (socket.terminate) socket.terminate();
      else socket.close(code, reason);
    } catch {
      // already closed
    }
    this.closed(code, reason);
  }

  /** Closes the socket on purpose (nothing left to carry, or disposed). */
  private drop(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.detach();
    try {
      socket.close(code, reason);
    } catch {
      // already closed
    }
  }

  /** Forgets the current socket: its later events are ignored, every operation waits for the next one. */
  private detach(): void {
    const socket = this.socket;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      // Late events of the old socket are ignored; an error listener stays (ws throws on an unheard 'error').
      socket.onerror = () => undefined;
    }
    this.socket = null;
    this.acknowledged = false;
    this.awaitingPong = false;
    for (const name of ['handshakeTimer', 'keepAliveTimer', 'flushTimer'] as const) this.clearTimer(name);
    this.outbox.length = 0;
    this.byId.clear();
    for (const op of this.ops.keys()) this.ops.set(op, null);
  }

  private scheduleLazyClose(): void {
    this.clearTimer('lazyCloseTimer');
    this.lazyCloseTimer = setTimeout(() => {
      this.lazyCloseTimer = null;
      if (this.ops.size > 0) return;
      this.clearTimer('reconnectTimer');
      this.drop(CloseCodes.NORMAL, 'Normal Closure');
    }, 0);
  }

  private armKeepAlive(): void {
    const every = this.options.keepAliveMs;
    if (!(every > 0) || !this.socket) return;
    this.clearTimer('keepAliveTimer');
    this.awaitingPong = false;
    this.keepAliveTimer = setTimeout(() => {
      this.keepAliveTimer = null;
      if (!this.socket || !this.acknowledged) return;
      this.awaitingPong = true;
      this.send({ type: 'ping' });
      this.keepAliveTimer = setTimeout(() => {
        if (this.awaitingPong) this.abandon(CloseCodes.NO_PONG, 'No pong to a keep-alive ping');
      }, every);
    }, every);
  }

  private send(message: object, id?: string): void {
    this.outbox.push({ id, text: JSON.stringify(message) });
    this.flush();
  }

  /** Sends queued messages, at most maxMessagesPerSecond in any second (resuming 200 subscriptions is paced). */
  private flush(): void {
    if (this.flushTimer) return;
    const limit = Math.max(1, this.options.maxMessagesPerSecond);
    while (this.outbox.length && this.socket && this.socket.readyState === OPEN) {
      const now = Date.now();
      while (this.sentAt.length && now - this.sentAt[0]! >= 1000) this.sentAt.shift();
      if (this.sentAt.length >= limit) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = null;
          this.flush();
        }, 1000 - (now - this.sentAt[0]!) + 5);
        return;
      }
      this.socket.send(this.outbox.shift()!.text);
      this.sentAt.push(now);
    }
  }

  private clearTimer(name: 'reconnectTimer' | 'lazyCloseTimer' | 'handshakeTimer' | 'keepAliveTimer' | 'flushTimer'): void {
    const timer = this[name];
    if (timer) clearTimeout(timer);
    this[name] = null;
  }
}
