import type { Socket as NetSocket } from 'node:net';
import WebSocket from 'ws';

export interface TrackedSocket extends WebSocket {
  /** The TCP socket under it (ws keeps it as `_socket`): pause it to stop reading. */
  readonly tcp: NetSocket;
}

/**
 * A `ws` WebSocket class for a client's `webSocketImpl` that keeps every socket it opens, so a test can stop
 * reading one. A fresh class per call: test files share modules in a worker, and must not share sockets.
 */
export function trackedWebSockets(): { impl: typeof WebSocket; opened: TrackedSocket[] } {
  const opened: TrackedSocket[] = [];
  class Tracked extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      opened.push(this as unknown as TrackedSocket);
    }
    get tcp(): NetSocket {
      return (this as unknown as { _socket: NetSocket })._socket;
    }
  }
  return { impl: Tracked as unknown as typeof WebSocket, opened };
}
