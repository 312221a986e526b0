// How the SDK treats each way a subscription can stop: transient closes resume from the cursor, refusals end
// with a typed error, and nothing ends quietly. The server cannot produce some of these closes yet (4008 slow
// consumer, 1012, 1013, a server-side complete), so the first group runs against a scripted graphql-ws peer;
// the refusals the server does produce run against the real server.
import { WebSocketServer, type WebSocket as PeerSocket } from 'ws';
import WebSocket from 'ws';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSwitchboardClient,
  OnInboxEventsDocument,
  OnThreadEventsDocument,
  SwitchboardError,
  type ConnectionChange,
  type LiveSubscription,
} from '../../client-sdk/src/index.js';
import { bootServer, type TestServer } from '../support/server.js';
import { OrgBuilder, type FixtureUser } from '../support/fixtures.js';
import { Role } from '../../server/src/modules/identity/permissions.js';
import type { Workspace } from '../../server/src/modules/identity/organization.entity.js';

async function until(condition: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function read<R>(stream: LiveSubscription<R>) {
  const out = { values: [] as R[], error: null as unknown, ended: false };
  void (async () => {
    try {
      for await (const value of stream) out.values.push(value);
    } catch (err) {
      out.error = err;
    } finally {
      out.ended = true;
    }
  })();
  return out;
}

interface PeerConnection {
  socket: PeerSocket;
  /** Subscribe messages received on this connection. */
  subscribes: Array<{ id: string; variables: Record<string, unknown> }>;
}

/** A graphql-transport-ws peer whose every move the test scripts. */
async function scriptedPeer() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'graphql-transport-ws' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const connections: PeerConnection[] = [];
  wss.on('connection', (socket) => {
    const conn: PeerConnection = { socket, subscribes: [] };
    connections.push(conn);
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { variables?: Record<string, unknown> } };
      if (message.type === 'connection_init') socket.send(JSON.stringify({ type: 'connection_ack' }));
      if (message.type === 'subscribe') conn.subscribes.push({ id: message.id!, variables: message.payload?.variables ?? {} });
      if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
    });
  });
  const event = (conn: PeerConnection, index: number, cursor: string) =>
    conn.socket.send(JSON.stringify({ id: conn.subscribes[index]!.id, type: 'next', payload: { data: { threadEvents: { cursor, type: 'MESSAGE_ADDED' } } } }));
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}/graphql`,
    connections,
    event,
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

describe('SDK close codes against a scripted peer', () => {
  let peer: Awaited<ReturnType<typeof scriptedPeer>>;
  beforeAll(async () => {
    peer = await scriptedPeer();
  });
  afterAll(() => peer.close());

  it('4008 (slow consumer), 1012, 1013, 1001 and a dropped socket resume each subscription from its own last cursor', async () => {
    const changes: ConnectionChange[] = [];
    const client = createSwitchboardClient({ url: peer.url, webSocketImpl: WebSocket, retry: { initialDelayMs: 10, maxDelayMs: 50 }, onConnectionChange: (c) => changes.push(c) });
    const a = read(client.subscribe(OnThreadEventsDocument, { threadId: 'A' }));
    const b = read(client.subscribe(OnThreadEventsDocument, { threadId: 'B' }));
    const start = peer.connections.length;
    const closes: Array<number | 'drop'> = [4008, 1012, 1013, 1001, 'drop'];
    for (let round = 0; round <= closes.length; round++) {
      await until(() => peer.connections.length > start + round && peer.connections[start + round]!.subscribes.length === 2, () => `round ${round}: no resubscription`);
      const conn = peer.connections[start + round]!;
      const byThread = (t: string) => conn.subscribes.findIndex((s) => s.variables.threadId === t);
      // Each resubscribes from its own last cursor (none before the first event).
      expect(conn.subscribes[byThread('A')]!.variables.after ?? null).toBe(round === 0 ? null : `a-${round - 1}`);
      expect(conn.subscribes[byThread('B')]!.variables.after ?? null).toBe(round === 0 ? null : `b-${round - 1}`);
      peer.event(conn, byThread('A'), `a-${round}`);
      peer.event(conn, byThread('B'), `b-${round}`);
      await until(() => a.values.length === round + 1 && b.values.length === round + 1, () => `round ${round}: events not received`);
      const close = closes[round];
      if (close === 'drop') conn.socket.terminate();
      else if (close !== undefined) conn.socket.close(close, 'scripted');
    }
    expect(a.values.map((v) => v.threadEvents.cursor)).toEqual(closes.map((_, i) => `a-${i}`).concat(`a-${closes.length}`));
    expect(b.values.map((v) => v.threadEvents.cursor)).toEqual(closes.map((_, i) => `b-${i}`).concat(`b-${closes.length}`));
    expect(changes.filter((c) => c.state === 'reconnecting').map((c) => (c as { closeCode: number }).closeCode)).toEqual([4008, 1012, 1013, 1001, 1006]);
    expect(a.ended || b.ended).toBe(false);
    await client.dispose();
    await until(() => a.ended && b.ended, () => 'not ended by dispose');
    expect([a.error, b.error]).toEqual([null, null]);
  });

  it('a start position sent before any event (startCursor) is where a resume starts; it is not yielded as an event', async () => {
    const client = createSwitchboardClient({ url: peer.url, webSocketImpl: WebSocket, retry: { initialDelayMs: 10, maxDelayMs: 50 } });
    const before = peer.connections.length;
    const a = read(client.subscribe(OnThreadEventsDocument, { threadId: 'A' }));
    const b = read(client.subscribe(OnThreadEventsDocument, { threadId: 'B' }));
    await until(() => peer.connections.length > before && peer.connections[before]!.subscribes.length === 2, () => 'no subscription');
    const conn = peer.connections[before]!;
    const idOf = (c: PeerConnection, t: string) => c.subscribes.find((s) => s.variables.threadId === t)!.id;
    // Two shapes a server may use: in the result's extensions (no data), or on the root field.
    conn.socket.send(JSON.stringify({ id: idOf(conn, 'A'), type: 'next', payload: { extensions: { startCursor: 'start-a' } } }));
    conn.socket.send(JSON.stringify({ id: idOf(conn, 'B'), type: 'next', payload: { data: { threadEvents: { startCursor: 'start-b', cursor: null, type: null } } } }));
    await until(() => b.values.length === 1, () => 'B did not get its first message');
    conn.socket.close(4008, 'slow consumer');
    await until(() => peer.connections.length > before + 1 && peer.connections[before + 1]!.subscribes.length === 2, () => 'no resubscription');
    const next = peer.connections[before + 1]!;
    expect(next.subscribes.find((s) => s.variables.threadId === 'A')!.variables.after).toBe('start-a');
    expect(next.subscribes.find((s) => s.variables.threadId === 'B')!.variables.after).toBe('start-b');
    expect(a.values).toEqual([]);
    await client.dispose();
  });

  it('a 4403 close ends every subscription with FORBIDDEN and does not reconnect', async () => {
    const changes: ConnectionChange[] = [];
    const client = createSwitchboardClient({ url: peer.url, webSocketImpl: WebSocket, retry: { initialDelayMs: 10, maxDelayMs: 50 }, onConnectionChange: (c) => changes.push(c) });
    const before = peer.connections.length;
    const a = read(client.subscribe(OnThreadEventsDocument, { threadId: 'A' }));
    const b = read(client.subscribe(OnThreadEventsDocument, { threadId: 'B' }));
    await until(() => peer.connections.length > before && peer.connections[before]!.subscribes.length === 2, () => 'no subscription');
    peer.connections[before]!.socket.close(4403, 'Forbidden');
    await until(() => a.ended && b.ended, () => 'still running');
    for (const s of [a, b]) {
      expect(s.error).toBeInstanceOf(SwitchboardError);
      expect(s.error).toMatchObject({ code: 'FORBIDDEN', closeCode: 4403 });
    }
    // The close decided it: no reconnection was scheduled.
    expect(changes.map((c) => c.state)).toEqual(['connecting', 'connected', 'closed']);
    await client.dispose();
  });

  it('a server-side complete ends that subscription with SUBSCRIPTION_COMPLETED; the other goes on', async () => {
    const client = createSwitchboardClient({ url: peer.url, webSocketImpl: WebSocket });
    const before = peer.connections.length;
    const a = read(client.subscribe(OnThreadEventsDocument, { threadId: 'A' }));
    const b = read(client.subscribe(OnThreadEventsDocument, { threadId: 'B' }));
    await until(() => peer.connections.length > before && peer.connections[before]!.subscribes.length === 2, () => 'no subscription');
    const conn = peer.connections[before]!;
    const idA = conn.subscribes.find((s) => s.variables.threadId === 'A')!.id;
    conn.socket.send(JSON.stringify({ id: idA, type: 'complete' }));
    await until(() => a.ended, () => 'A still running');
    expect(a.error).toMatchObject({ code: 'SUBSCRIPTION_COMPLETED' });
    peer.event(conn, conn.subscribes.findIndex((s) => s.variables.threadId === 'B'), 'b-0');
    await until(() => b.values.length === 1, () => 'B got nothing');
    expect(b.ended).toBe(false);
    await client.dispose();
  });
});

describe('SDK refusals from the real server', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let admin: FixtureUser;
  let agent: FixtureUser;

  beforeAll(async () => {
    server = await bootServer();
    org = new OrgBuilder(server.app, 'SDK Refusals Co');
    W = org.workspace('Main');
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
  });
  afterAll(() => server.close());

  const gql = async (token: string, query: string, variables: Record<string, unknown>) => {
    const r = await server.gql<any>(query, variables, { token });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!;
  };

  it('a refused subscription errors with the server code; the others on the client go on', async () => {
    const client = createSwitchboardClient({ url: server.url, token: admin.token, webSocketImpl: WebSocket });
    const bad = read(client.subscribe(OnInboxEventsDocument, { workspaceId: W.id }, { after: 'not-a-cursor' }));
    const good = read(client.subscribe(OnInboxEventsDocument, { workspaceId: W.id }));
    await until(() => bad.ended, () => 'the bad cursor was not refused');
    expect(bad.error).toMatchObject({ code: 'BAD_USER_INPUT' });
    // The good one is live: keep writing until it sees an event (it may have registered after the first).
    let i = 0;
    const threadId = (await gql(admin.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554200001", body: "hello" }) { id } }`, { w: W.id })).startThread.id;
    while (!good.values.length) {
      await gql(admin.token, `mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: threadId, b: `x-${i++}` });
      await until(() => good.values.length > 0, () => '', 2_000).catch(() => undefined);
      if (i > 30) throw new Error('the good subscription got nothing');
    }
    expect(good.ended).toBe(false);
    await client.dispose();
  });

  it('60 subscriptions on one client are not closed for flooding: the SDK paces its messages under the server limit', async () => {
    const changes: ConnectionChange[] = [];
    const client = createSwitchboardClient({ url: server.url, token: admin.token, webSocketImpl: WebSocket, onConnectionChange: (c) => changes.push(c) });
    const streams = Array.from({ length: 60 }, () => read(client.subscribe(OnInboxEventsDocument, { workspaceId: W.id })));
    const threadId = (await gql(admin.token, `mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554200002", body: "hello" }) { id } }`, { w: W.id })).startThread.id;
    const started = Date.now();
    let i = 0;
    while (streams.some((s) => s.values.length === 0 && !s.ended)) {
      if (Date.now() - started > 60_000) throw new Error(`${streams.filter((s) => !s.values.length).length} of 60 got nothing`);
      await gql(admin.token, `mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: threadId, b: `p-${i++}` });
      await until(() => streams.every((s) => s.values.length > 0 || s.ended), () => '', 3_000).catch(() => undefined);
    }
    expect(streams.filter((s) => s.ended).map((s) => String(s.error))).toEqual([]);
    expect(changes.filter((c) => c.state === 'reconnecting')).toEqual([]);
    await client.dispose();
  });

  it("a deactivated user's subscriptions end with FORBIDDEN and the client does not reconnect", async () => {
    const changes: ConnectionChange[] = [];
    const client = createSwitchboardClient({ url: server.url, token: agent.token, webSocketImpl: WebSocket, retry: { initialDelayMs: 10, maxDelayMs: 50 }, onConnectionChange: (c) => changes.push(c) });
    const stream = read(client.subscribe(OnInboxEventsDocument, { workspaceId: W.id }));
    await until(() => changes.some((c) => c.state === 'connected'), () => 'never connected');
    await gql(admin.token, `mutation($u: ID!) { deactivateUser(userId: $u) { id } }`, { u: agent.id });
    await until(() => stream.ended, () => 'the stream outlived the deactivation');
    expect(stream.error).toBeInstanceOf(SwitchboardError);
    expect((stream.error as SwitchboardError).code).toBe('FORBIDDEN');
    expect(changes.some((c) => c.state === 'reconnecting')).toBe(false);
    await client.dispose();
  });
});
