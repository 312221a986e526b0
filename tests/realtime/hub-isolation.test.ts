import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLError } from 'graphql';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { openSocket, subscribe, until } from './access-support';

const INBOX = `subscription($w: ID!) { inboxEvents(workspaceId: $w) { cursor type message { body } } }`;

describe('the hub isolates subscribers from each other', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  beforeAll(async () => {
    server = await bootServer();
    org = new OrgBuilder(server.app, 'Hub Co');
    W = org.workspace('West');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  }, 60_000);
  afterAll(() => server?.close());

  it('a subscriber whose delivery throws is ended with UNAVAILABLE; the subscribers after it still get the event', { timeout: 60_000 }, async () => {
    let failed: GraphQLError | null = null;
    // Registered first, so the hub reaches it before the real subscription below.
    server.app.hub.register({
      organizationId: org.id,
      workspaceIds: new Set([W.id]),
      deliver: () => {
        throw new Error('a broken subscriber');
      },
      fail: (error) => (failed = error),
    });
    const live = subscribe(openSocket(server, supervisor.token), INBOX, { w: W.id }, (d) => d.inboxEvents);
    // Wait until the real subscription is registered: the hub then holds both.
    await until('both subscribers registered', () => server.app.hub.subscriberCount === 2);
    const r = await server.gql<any>(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15554999001", body: "to everyone" }) { id } }`, { w: W.id }, { token: supervisor.token });
    expect(r.body.errors).toBeUndefined();
    await until('the healthy subscriber received the event', () => live.events.some((e) => e.message?.body === 'to everyone'));
    expect(failed).not.toBeNull();
    expect((failed as unknown as GraphQLError).extensions.code).toBe('UNAVAILABLE');
    expect(server.app.hub.subscriberCount).toBe(1);
    live.dispose();
  });
});
