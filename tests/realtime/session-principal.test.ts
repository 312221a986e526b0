// One principal per session (connections.ts ConnectionRegistry.resolve): the sockets of one session on a process
// share one resolution of its credential, and an access change drops it for all of them at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { until } from '../support/wait';
import { Role } from '../../server/src/modules/identity/permissions';
import { ServerCloseCode } from '../../server/src/realtime/close-codes';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { openSocket, subscribe } from './access-support';

const INBOX = `subscription($w: ID!) { inboxEvents(workspaceId: $w) { cursor type message { body } } }`;

describe('one principal per session', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let sessionLookups = 0;

  beforeAll(async () => {
    // Counts the statements that resolve a session token (authentication.service.ts fromSession).
    server = await bootServer({ onQuery: (sql) => void (/\bfrom "?sessions"?\s/.test(sql) && /token_hash/.test(sql) && sessionLookups++) });
    org = new OrgBuilder(server.app, 'Session Co');
    W = org.workspace('Main');
  }, 60_000);
  afterAll(() => server?.close());

  it('two sockets of one session share the resolved principal, and both lose it on logout', { timeout: 120_000 }, async () => {
    const user: FixtureUser = await org.login(await org.user('Two Tabs', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const first = openSocket(server, user.token);
    const onFirst = subscribe(first, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await until(() => server.app.hub.subscriberCount === 1, 'the first socket subscribed');
    const afterFirst = sessionLookups;
    expect(afterFirst).toBeGreaterThanOrEqual(1);
    const second = openSocket(server, user.token);
    const onSecond = subscribe(second, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await until(() => server.app.hub.subscriberCount === 2, 'the second socket subscribed');
    // The second socket of the session did not resolve the token again.
    expect(sessionLookups).toBe(afterFirst);

    const r = await server.gql<any>(`mutation { logout }`, {}, { token: user.token });
    expect(r.body.errors).toBeUndefined();
    await until(() => first.closeCode !== null && second.closeCode !== null, 'both sockets closed');
    expect(first.closeCode).toBe(ServerCloseCode.FORBIDDEN);
    expect(second.closeCode).toBe(ServerCloseCode.FORBIDDEN);
    expect(onFirst.error).toMatch(/FORBIDDEN|4403/);
    expect(onSecond.error).toMatch(/FORBIDDEN|4403/);
    expect(server.app.hub.subscriberCount).toBe(0);

    // A socket opened after the logout is refused: nothing of the old resolution is reused.
    const late = openSocket(server, user.token);
    await until(() => late.closeCode !== null, 'the late socket was refused');
    expect(late.closeCode).toBe(ServerCloseCode.FORBIDDEN);
  });
});
