// Backpressure (realtime/backpressure.ts): a subscriber that stops reading its socket while thousands of events
// flow is closed with 4008, and what the server holds for it never passes the bound; a subscriber that reads
// gets every event. Waits are on signals; nothing asserts a duration or RSS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { eventually, until } from '../support/wait';
import { Role } from '../../server/src/modules/identity/permissions';
import { ServerCloseCode } from '../../server/src/realtime/close-codes';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { openSocket, subscribe } from './access-support';
import { bulkCursors, writeBulkEvents } from './support-bulk';
import { exactlyOnceProblems } from './support';
import { trackedWebSockets } from '../support/tracked-socket';

const INBOX = `subscription($w: ID!) { inboxEvents(workspaceId: $w) { cursor type message { body } } }`;
// Above one read of the hub (500 events of about 2 KB, handed over synchronously), below what 5,000 events carry.
const MAX_EVENTS = 1_000;
const MAX_BYTES = 1024 * 1024;

const sockets = trackedWebSockets();

describe('a subscriber that stops reading', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer({ env: { LIVE_MAX_QUEUED_EVENTS: String(MAX_EVENTS), LIVE_MAX_BUFFERED_BYTES: String(MAX_BYTES) } });
    org = new OrgBuilder(server.app, 'Slow Co');
    W = org.workspace('Main');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  }, 60_000);
  afterAll(() => server?.close());

  it('is closed with 4008 while the server holds no more than the bound for it; a reading subscriber gets every event', { timeout: 240_000 }, async () => {
    const r = await server.gql<any>(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554800001", body: "first" }) { id } }`, { w: W.id }, { token: supervisor.token });
    expect(r.body.errors).toBeUndefined();
    const threadId = r.body.data.startThread.id as string;

    let slowClose: { code: number; reason: string } | null = null;
    const slowClient = createClient({
      url: server.wsUrl,
      webSocketImpl: sockets.impl,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      connectionParams: { authorization: `Bearer ${supervisor.token}` },
      on: { closed: (e) => (slowClose = { code: (e as { code: number }).code, reason: String((e as { reason: string }).reason) }) },
    });
    let slowReceived = 0;
    slowClient.subscribe({ query: INBOX, variables: { w: W.id } }, { next: () => slowReceived++, error: () => undefined, complete: () => undefined });
    const healthy = subscribe(openSocket(server, supervisor.token), INBOX, { w: W.id }, (d) => d.inboxEvents);
    await until(() => server.app.hub.subscriberCount === 2, 'both subscriptions registered');
    const slowSocket = sockets.opened[0]!;
    slowSocket.tcp.pause(); // the peer stops reading: the kernel's buffers fill, then the server's

    await writeBulkEvents(server.db.url, threadId, { batches: 50, perBatch: 100, size: 2_000, prefix: 'bulk' });

    const closes = async () => (await server.app.metrics.slowConsumerCloses.get()).values[0]?.value ?? 0;
    await eventually(
      async () => ({ closes: await closes(), subscribers: server.app.hub.subscriberCount, slowReceived, healthy: healthy.events.length, herr: healthy.error, slowClose, delivered: server.app.hub.delivered, head: server.app.hub.head() }),
      (state) => state.closes >= 1 && state.subscribers === 1,
      { what: 'the slow subscriber is dropped by the server', timeoutMs: 30_000 },
    );
    const held = Object.fromEntries((await server.app.metrics.slowConsumerHeld.get()).values.map((v) => [v.labels.kind, v.value]));
    // What the server held for it: the event that crossed the bound at most, and one frame past the byte bound.
    expect(held.events).toBeLessThanOrEqual(MAX_EVENTS + 1);
    expect(held.bytes).toBeLessThanOrEqual(MAX_BYTES + 4 * 1024);

    // The reader is not held back by the slow one: every bulk event, once, in log order.
    const expected = await bulkCursors(server.db.url, threadId, 'bulk');
    expect(expected).toHaveLength(5_000);
    await until(() => healthy.events.filter((e) => e.message?.body?.startsWith('bulk-')).length >= expected.length, 'the reading subscriber has every event', 180_000);
    expect(exactlyOnceProblems(healthy.events.filter((e) => e.message?.body?.startsWith('bulk-')), expected)).toEqual([]);
    expect(healthy.error).toBeNull();

    // Once it reads again, the slow one finds the close frame behind what was already in flight.
    slowSocket.tcp.resume();
    await until(() => slowClose !== null, 'the slow socket sees its close');
    expect(slowClose!.code).toBe(ServerCloseCode.SLOW_CONSUMER);
    expect(slowReceived).toBeLessThan(expected.length);
    await slowClient.dispose();
    healthy.dispose();
  });
});
