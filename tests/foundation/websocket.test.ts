import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bootServer, type TestServer } from '../support/server';

/** Opens a raw socket and returns the first message or the close code. */
function rawExchange(url: string, protocol: string | undefined, send: unknown[], headers: Record<string, string> = {}) {
  return new Promise<{ messages: unknown[]; closeCode?: number; unexpected?: number }>((resolve) => {
    const ws = new WebSocket(url, protocol ? [protocol] : [], { headers });
    const messages: unknown[] = [];
    const encode = (m: unknown) => (typeof m === 'string' ? m : JSON.stringify(m));
    // connection_init first; the rest only after the ack (graphql-ws closes sockets that subscribe earlier).
    ws.on('open', () => ws.send(encode(send[0])));
    ws.on('message', (d) => {
      const message = JSON.parse(String(d)) as { type: string };
      messages.push(message);
      if (message.type === 'connection_ack') send.slice(1).forEach((m) => ws.readyState === ws.OPEN && ws.send(encode(m)));
      if (messages.length === send.length) ws.close(1000);
    });
    ws.on('unexpected-response', (_req, res) => resolve({ messages, unexpected: res.statusCode }));
    ws.on('close', (code) => resolve({ messages, closeCode: code }));
    ws.on('error', () => undefined);
  });
}

describe('graphql-ws on /graphql', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer();
  });
  afterAll(() => server.close());

  it('completes connection_init / connection_ack', async () => {
    const result = await rawExchange(server.wsUrl, 'graphql-transport-ws', [{ type: 'connection_init', payload: {} }]);
    expect(result.messages).toEqual([{ type: 'connection_ack' }]);
  });

  it('runs { __typename } through the graphql-ws client', async () => {
    const client = server.wsClient();
    const result = await new Promise((resolve, reject) => {
      let value: unknown;
      client.subscribe({ query: '{ __typename }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
    });
    expect(result).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses other subprotocols and foreign origins', async () => {
    // The handshake names no subprotocol the server speaks: the client drops it before any message.
    const legacy = await rawExchange(server.wsUrl, 'graphql-ws', [{ type: 'connection_init' }]);
    expect(legacy.messages).toEqual([]);
    expect(legacy.closeCode).not.toBe(1000);
    const foreign = await rawExchange(server.wsUrl, 'graphql-transport-ws', [], { origin: 'https://evil.example' });
    expect(foreign.unexpected).toBe(403);
  });

  it('closes a socket that presents an invalid token with 4403', async () => {
    const result = await rawExchange(server.wsUrl, 'graphql-transport-ws', [
      { type: 'connection_init', payload: { authorization: 'Bearer sbs_not-a-real-token' } },
    ]);
    expect(result.closeCode).toBe(4403);
  });

  it('answers a bad document with an error message, not a dropped socket', async () => {
    const result = await rawExchange(server.wsUrl, 'graphql-transport-ws', [
      { type: 'connection_init', payload: {} },
      { type: 'subscribe', id: '1', payload: { query: '{ nope }' } },
    ]);
    expect(result.messages[1]).toMatchObject({ type: 'error', id: '1', payload: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
  });

  it('closes a flooding socket with 4429', async () => {
    const flood = Array.from({ length: 80 }, () => '{"type":"ping"}');
    const result = await rawExchange(server.wsUrl, 'graphql-transport-ws', [{ type: 'connection_init', payload: {} }, ...flood]);
    expect(result.closeCode).toBe(4429);
  });
});
