// What subscribing costs the database when many sockets of one session subscribe (issue #16's connect): the
// agent groups are loaded once for the session's principal (not once per socket, nor per operation), and each
// subscription reads at most the object its @auth scope points at and the safe line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { until } from '../support/wait';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { openSocket, subscribe, type Socket } from './access-support';

const THREAD = `subscription($t: ID!) { threadEvents(threadId: $t) { cursor type message { body } } }`;
const SOCKETS = 20;

describe('subscribing from many sockets of one session', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let agent: FixtureUser;
  const statements: string[] = [];

  beforeAll(async () => {
    server = await bootServer({ onQuery: (sql) => void statements.push(sql), sweepSnoozes: false, rollups: false });
    org = new OrgBuilder(server.app, 'Many Tabs Co');
    W = org.workspace('Main');
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  }, 60_000);
  afterAll(() => server?.close());

  it('loads the agent groups once for the session and reads the thread at most once per subscription', { timeout: 120_000 }, async () => {
    const r = await server.gql<any>(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554820001", body: "hello" }) { id } }`, { w: W.id }, { token: agent.token });
    expect(r.body.errors).toBeUndefined();
    const threadId = r.body.data.startThread.id as string;
    statements.length = 0;
    const sockets: Socket[] = [];
    const streams = [];
    for (let i = 0; i < SOCKETS; i++) {
      const socket = openSocket(server, agent.token);
      sockets.push(socket);
      streams.push(subscribe(socket, THREAD, { t: threadId }, (d) => d.threadEvents));
    }
    await until(() => server.app.hub.subscriberCount === SOCKETS, `${SOCKETS} subscriptions registered`, 60_000);
    expect(streams.map((s) => s.error).filter(Boolean)).toEqual([]);
    const groupReads = statements.filter((q) => /from "agent_group_members"/.test(q)).length;
    const threadReads = statements.filter((q) => /from "?threads"?\b/.test(q)).length;
    console.log(`${SOCKETS} subscriptions: ${groupReads} agent-group reads, ${threadReads} thread reads, ${statements.length} statements in all`);
    expect(groupReads).toBeLessThanOrEqual(1);
    expect(threadReads).toBeLessThanOrEqual(SOCKETS);
    for (const s of streams) s.dispose();
    for (const s of sockets) await s.dispose();
  });
});
