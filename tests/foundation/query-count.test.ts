import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { api } from '../support/api';
import { QueryLog } from '../support/query-log';
import { until } from '../support/wait';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';

const START = `mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "counted" }) { id } }`;
const ME = `{ me { userId } }`;

/** The SQL-count harness itself: a request's statements are its own, whatever else the process does. */
describe('counting a request\'s SQL statements', () => {
  let server: TestServer;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer({ recordQueries: true });
    const org = new OrgBuilder(server.app, 'Count Co');
    W = org.workspace('Main');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  });
  afterAll(() => server.close());

  it('leaves out the event tailer\'s read that the request\'s own commit wakes', async () => {
    // A live subscriber: each commit in W wakes the tailer, which reads the log in the same process.
    const events: unknown[] = [];
    const client = server.wsClient({ connectionParams: { authorization: `Bearer ${supervisor.token}` } });
    const after = (await api(server).as(supervisor).ok<{ liveCursor: string }>(`{ liveCursor }`)).liveCursor;
    client.subscribe({ query: `subscription($w: ID!, $a: String) { inboxEvents(workspaceId: $w, after: $a) { type } }`, variables: { w: W.id, a: after } }, {
      next: (e) => void events.push(e),
      error: () => undefined,
      complete: () => undefined,
    });
    await until(() => server.app.hub.subscriberCount > 0, 'the subscription to register');

    const requestId = QueryLog.newRequestId();
    const res = await api(server).as(supervisor).send(START, { w: W.id, p: '+15554000001' }, { requestId });
    expect(res.errors).toBeUndefined();
    // The tailer has read the event once the subscriber has it: only then is the request's list complete.
    await until(() => events.length > 0, 'the event to reach the subscriber');
    const own = server.queries!.take(requestId);
    expect(own.some((q) => /insert into events/.test(q))).toBe(true);
    expect(own.filter((q) => /from events/.test(q))).toEqual([]);
  });

  it('leaves out the statements of other requests running at the same time', async () => {
    const alone = (await api(server).as(supervisor).statements(ME)).statements.length;
    // Another caller keeps writing meanwhile (its own statements and the tailer's reads interleave with ours).
    let stop = false;
    let written = 0;
    const noise = (async () => {
      for (let i = 0; !stop && i < 500; i++) {
        await api(server).as(supervisor).ok(START, { w: W.id, p: `+1555410${String(i).padStart(4, '0')}` });
        written++;
      }
    })();
    await until(() => written > 0, 'the other requests to be under way');
    const counts: number[] = [];
    for (let i = 0; i < 10; i++) counts.push((await api(server).as(supervisor).statements(ME)).statements.length);
    stop = true;
    await noise;
    console.log(`statements of { me }: ${alone} alone, ${counts.join(', ')} beside ${written} writes`);
    expect(counts).toEqual(Array(10).fill(alone));
  });
});
