// A resume whose backlog spans several pages of the log (realtime/live.ts REPLAY_PAGE): the pages are read as
// the socket takes them, and the stream is still exactly the log (no gap, no duplicate, log order), with the
// live events sent during the replay after it. Waits are on signals; nothing asserts a duration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { bulkCursors, writeBulkEvents } from './support-bulk';
import { collect, exactlyOnceProblems } from './support';

const THREAD = `subscription($t: ID!, $after: String) { threadEvents(threadId: $t, after: $after) { cursor type message { body } } }`;
const BACKLOG = 1_700; // three full pages of 500 and a partial one

describe('a resume over a backlog of several pages', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer();
    org = new OrgBuilder(server.app, 'Replay Co');
    W = org.workspace('Main');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  }, 60_000);
  afterAll(() => server?.close());

  it('delivers every replayed event once and in log order, then the live ones', { timeout: 120_000 }, async () => {
    const started = await server.gql<any>(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554810001", body: "first" }) { id } }`, { w: W.id }, { token: supervisor.token });
    expect(started.body.errors).toBeUndefined();
    const threadId = started.body.data.startThread.id as string;
    const cursor = await server.gql<any>(`{ liveCursor }`, {}, { token: supervisor.token });
    const after = cursor.body.data.liveCursor as string;
    await writeBulkEvents(server.db.url, threadId, { batches: 17, perBatch: 100, size: 200, prefix: 'backlog' });
    const backlog = await bulkCursors(server.db.url, threadId, 'backlog');
    expect(backlog).toHaveLength(BACKLOG);

    const client = server.wsClient({ connectionParams: { authorization: `Bearer ${supervisor.token}` } });
    const isBulk = (e: any) => typeof e?.message?.body === 'string' && (e.message.body.startsWith('backlog-') || e.message.body.startsWith('live-'));
    const stream = collect(client, THREAD, { t: threadId, after }, (d) => d.threadEvents, isBulk);
    // Sent while the replay may still be running: they come after it, each once.
    await writeBulkEvents(server.db.url, threadId, { batches: 2, perBatch: 50, size: 200, prefix: 'live' });
    const live = await bulkCursors(server.db.url, threadId, 'live');
    await stream.waitFor(BACKLOG + live.length, 60_000);
    expect(exactlyOnceProblems(stream.events, [...backlog, ...live])).toEqual([]);
    expect(stream.errors).toEqual([]);
    stream.dispose();
    await client.dispose();
  });
});
