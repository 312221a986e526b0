import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { api, type Variables } from '../support/api';

/**
 * A thread page reads its threads' contacts, tags and unread counts in its own statement (plain rows) and
 * primes the field loaders: what it shows must be what those fields load on their own, field by field.
 */
describe('thread pages as plain rows', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let admin: FixtureUser, supervisor: FixtureUser, agent: FixtureUser;
  let ingestKey: string;

  const ok = (token: string, query: string, variables?: Variables) => api(server).as(token).ok<Record<string, any>>(query, variables);
  const FIELDS = `id status archived needsResponse lastActivityAt lastInboundAt firstResponseAt createdAt workspaceId contactId assigneeUserId assigneeGroupId campaignId
    lastMessagePreview unreadCount contact { id displayName firstName lastName phone email customFields workspaceId mergedIntoId createdAt updatedAt }
    tags { id name color workspaceId } viewerCan { send readBodies }`;

  beforeAll(async () => {
    server = await bootServer({ channel: new SandboxProvider(null), sweepSnoozes: false, rollups: false });
    org = new OrgBuilder(server.app, 'Rows Co');
    W = org.workspace('Main');
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
    ingestKey = (await ok(admin.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gateway", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id })).createApiKey.secret;
    const tag = (await ok(admin.token, `mutation($w: ID!) { createTag(workspaceId: $w, name: "vip", color: "#ff0000") { id } }`, { w: W.id })).createTag.id;
    const other = (await ok(admin.token, `mutation($w: ID!) { createTag(workspaceId: $w, name: "late") { id } }`, { w: W.id })).createTag.id;
    for (let i = 0; i < 6; i++) {
      const { ingestInboundMessage: m } = await ok(ingestKey, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, {
        i: { workspaceId: W.id, from: `+1555302000${i}`, body: `Message ${i}`, externalId: `rows-${i}` },
      });
      if (i % 2 === 0) await ok(supervisor.token, `mutation($t: ID!, $g: ID!) { applyTag(threadId: $t, tagId: $g) { id } }`, { t: m.threadId, g: tag });
      if (i % 3 === 0) await ok(supervisor.token, `mutation($t: ID!, $g: ID!) { applyTag(threadId: $t, tagId: $g) { id } }`, { t: m.threadId, g: other });
      if (i === 1) await ok(supervisor.token, `mutation($t: ID!) { markThreadRead(threadId: $t) { id } }`, { t: m.threadId });
      if (i === 2) await ok(supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: m.threadId, u: agent.id });
    }
  });
  afterAll(() => server.close());

  it('every field of a page is what the thread query answers alone, for a supervisor and for an agent', async () => {
    for (const viewer of [supervisor, agent]) {
      const page = await ok(viewer.token, `query($w: ID!) { threads(workspaceId: $w, first: 50) { edges { cursor node { ${FIELDS} } } pageInfo { hasNextPage endCursor } } }`, { w: W.id });
      const nodes = page.threads.edges.map((e: { node: Record<string, unknown> }) => e.node);
      expect(nodes.length).toBe(viewer === agent ? 1 : 6);
      for (const node of nodes) {
        const alone = await ok(viewer.token, `query($t: ID!) { thread(id: $t) { ${FIELDS} } }`, { t: node.id });
        expect(node).toEqual(alone.thread);
      }
    }
  });

  it('keyset pages of threads and of messages follow on without gaps or repeats', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const d: Record<string, any> = await ok(supervisor.token, `query($w: ID!, $a: String) { threads(workspaceId: $w, first: 4, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, { w: W.id, a: after });
      seen.push(...d.threads.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!d.threads.pageInfo.hasNextPage) break;
      after = d.threads.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    const threadId = seen[0]!;
    for (let i = 0; i < 3; i++) await ok(supervisor.token, `mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: threadId, b: `Reply ${i}` });
    const all = await ok(supervisor.token, `query($t: ID!) { thread(id: $t) { messages(first: 50) { edges { node { id body } } } } }`, { t: threadId });
    expect(all.thread.messages.edges.map((e: { node: { body: string } }) => e.node.body)).toEqual(['Reply 2', 'Reply 1', 'Reply 0', expect.stringMatching(/^Message/)]);
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const d: Record<string, any> = await ok(supervisor.token, `query($t: ID!, $a: String) { thread(id: $t) { messages(first: 1, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`, { t: threadId, a: cursor });
      paged.push(...d.thread.messages.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!d.thread.messages.pageInfo.hasNextPage) break;
      cursor = d.thread.messages.pageInfo.endCursor;
    }
    expect(paged).toEqual(all.thread.messages.edges.map((e: { node: { id: string } }) => e.node.id));
  });
});
