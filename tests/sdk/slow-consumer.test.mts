// The SDK and the slow-consumer close (4008): a client that stops reading while thousands of events flow is
// closed by the server, reconnects, resumes from its cursor and ends with every event exactly once, in log order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSwitchboardClient, OnThreadEventsDocument, type ConnectionChange } from '../../client-sdk/src/index.js';
import { bootServer, type TestServer } from '../support/server.js';
import { OrgBuilder, type FixtureUser } from '../support/fixtures.js';
import { eventually, until } from '../support/wait.js';
import { Role } from '../../server/src/modules/identity/permissions.js';
import type { Workspace } from '../../server/src/modules/identity/organization.entity.js';
import { bulkCursors, writeBulkEvents } from '../realtime/support-bulk.js';
import { exactlyOnceProblems } from '../realtime/support.js';
import { trackedWebSockets } from '../support/tracked-socket.js';

const sockets = trackedWebSockets();

describe('SDK and the slow-consumer close', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer({ env: { LIVE_MAX_QUEUED_EVENTS: '1000', LIVE_MAX_BUFFERED_BYTES: String(1024 * 1024) } });
    org = new OrgBuilder(server.app, 'SDK Slow Co');
    W = org.workspace('Main');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  }, 60_000);
  afterAll(() => server?.close());

  it('resumes from its cursor after 4008 and ends with every event exactly once', { timeout: 240_000 }, async () => {
    const r = await server.gql<any>(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554810001", body: "first" }) { id } }`, { w: W.id }, { token: supervisor.token });
    expect(r.body.errors).toBeUndefined();
    const threadId = r.body.data.startThread.id as string;
    const changes: ConnectionChange[] = [];
    const client = createSwitchboardClient({
      url: server.url,
      token: supervisor.token,
      webSocketImpl: sockets.impl,
      retry: { initialDelayMs: 50, maxDelayMs: 500 },
      onConnectionChange: (c) => changes.push(c),
    });
    const received: Array<{ cursor: string; body: string }> = [];
    let error: unknown = null;
    void (async () => {
      try {
        for await (const result of client.subscribe(OnThreadEventsDocument, { threadId })) {
          const e = result.threadEvents;
          if (e.message?.body) received.push({ cursor: e.cursor, body: e.message.body });
        }
      } catch (err) {
        error = err;
      }
    })();
    // A first event, so the stream has a cursor to resume from.
    await until(() => server.app.hub.subscriberCount === 1, 'the SDK subscribed');
    await writeBulkEvents(server.db.url, threadId, { batches: 1, perBatch: 1, size: 10, prefix: 'warm' });
    await until(() => received.some((e) => e.body.startsWith('warm-')), 'the first event arrived');

    sockets.opened[0]!.tcp.pause();
    await writeBulkEvents(server.db.url, threadId, { batches: 50, perBatch: 100, size: 2_000, prefix: 'bulk' });
    await eventually(async () => (await server.app.metrics.slowConsumerCloses.get()).values[0]?.value ?? 0, (n) => n >= 1, { what: 'the server closed the slow socket' });
    sockets.opened[0]!.tcp.resume();

    const expected = await bulkCursors(server.db.url, threadId, 'bulk');
    expect(expected).toHaveLength(5_000);
    await eventually(
      async () => ({ bulk: received.filter((e) => e.body.startsWith('bulk-')).length, error: String(error), changes: changes.map((c) => `${c.state}${'closeCode' in c ? c.closeCode : ''}`).join(','), subscribers: server.app.hub.subscriberCount, closes: (await server.app.metrics.slowConsumerCloses.get()).values[0]?.value }),
      (s) => s.bulk >= expected.length || error !== null,
      { what: 'every bulk event arrived', timeoutMs: 60_000 },
    ).catch((err) => {
      const got = new Set(received.map((e) => e.cursor));
      const missing = expected.map((c, i) => [i, c] as const).filter(([, c]) => !got.has(c)).map(([i]) => i);
      console.log(`missing ${missing.length} of ${expected.length} (log indexes ${missing.slice(0, 5).join(', ')}...)`);
      throw err;
    });
    expect(error).toBeNull();
    expect(changes.some((c) => c.state === 'reconnecting' && c.closeCode === 4008)).toBe(true);
    expect(exactlyOnceProblems(received.filter((e) => e.body.startsWith('bulk-')), expected)).toEqual([]);
    await client.dispose();
  });
});
