import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { TcpProxy } from '../support/tcp-proxy';
import { TEST_REDIS_URL } from '../support/services';
import { openSocket, operate, percentile, subscribe, until, type Live, type Socket } from './access-support';
import { api } from '../support/api';

/**
 * Every access change, made on server A, reaches a socket on server B (same database, real Redis): the running
 * subscription, a new subscription on the same socket, and a new query on the same socket all obey it.
 */
const INBOX = `subscription($w: ID!) { inboxEvents(workspaceId: $w) { cursor type threadId message { body } } }`;
const THREAD_EVENTS = `subscription($t: ID!) { threadEvents(threadId: $t) { cursor type threadId message { body } } }`;
const BADGE = `subscription($w: ID!) { unreadCounts(workspaceId: $w) { threads messages } }`;
const THREAD = `query($t: ID!) { thread(id: $t) { id messages(first: 100) { edges { node { body } } } } }`;
const ME = `query { me { permissions { workspaceId permissions } } }`;
const GONE = /FORBIDDEN|4403/;

describe('access changes reach every open socket on every server process', () => {
  let a: TestServer;
  let b: TestServer;
  let redisProxy: TcpProxy;
  let org: OrgBuilder;
  let W: Workspace;
  let owner: FixtureUser;
  let watcher: FixtureUser;
  let threadId: string;
  const sockets: Socket[] = [];

  const ok = (server: TestServer, token: string, query: string, variables?: Record<string, unknown>) => api(server).as(token).ok<any>(query, variables);
  const send = (threadId: string, body: string) =>
    ok(a, owner.token, `mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: threadId, b: body });
  const startThread = (phone: string) =>
    ok(a, owner.token, `mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "start" }) { id } }`, { w: W.id, p: phone }).then((d) => d.startThread.id as string);
  const membership = (userId: string, roles: Role[], extra: { addOns?: AddOn[]; customRoleIds?: string[] } = {}) =>
    ok(a, owner.token, `mutation($i: UpdateMembershipInput!) { updateMembership(input: $i) { id } }`, {
      i: { userId, workspaceId: W.id, roles, addOns: extra.addOns ?? [], ...(extra.customRoleIds ? { customRoleIds: extra.customRoleIds } : {}) },
    });
  const socketOnB = (token: string) => {
    const s = openSocket(b, token);
    sockets.push(s);
    return s;
  };
  const bodies = (live: Live) => live.events.filter((e) => e.message).map((e) => e.message.body);
  let phone = 0;
  const nextPhone = () => `+1555400${String(++phone).padStart(4, '0')}`;

  /** A message on the shared thread that `streams` all receive: they are registered and live. */
  async function warm(streams: Live[], thread = threadId) {
    const marker = `warm-${Math.random().toString(36).slice(2)}`;
    await send(thread, marker);
    for (const s of streams) await until(`a warm-up event on a stream (${s.error ?? 'no error'})`, () => s.events.some((e) => e.message?.body === marker || (e.message && e.message.body === null && e.threadId === thread)));
  }

  /**
   * A message after the change, and a witness that sees it: once the witness has it, the server that holds
   * the victim's socket has read the change too (it precedes the message in the log).
   */
  async function sendAndWitness(witness: Live, thread = threadId): Promise<string> {
    const marker = `after-${Math.random().toString(36).slice(2)}`;
    await send(thread, marker);
    await until('the witness received the message sent after the change', () => bodies(witness).includes(marker));
    return marker;
  }

  /** The same log event as the witness's `marker` message, as the victim's stream received it (body hidden or not). */
  async function sameEvent(victim: Live, witness: Live, marker: string) {
    const cursor = witness.events.find((e) => e.message?.body === marker).cursor;
    await until('the victim received the message sent after the change', () => victim.events.some((e) => e.cursor === cursor));
    return victim.events.find((e) => e.cursor === cursor);
  }

  async function expectCredentialGone(socket: Socket, running: Live, witness: Live) {
    await until('the running subscription ended', () => running.endedAt !== null);
    expect(running.error).toMatch(GONE);
    const seen = running.events.length;
    const marker = await sendAndWitness(witness);
    expect(running.events.length).toBe(seen);
    expect(bodies(running)).not.toContain(marker);
    const again = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await until('the new subscription was refused', () => again.endedAt !== null);
    expect(again.error).toMatch(GONE);
    expect(again.events).toEqual([]);
    const query = await operate(socket, THREAD, { t: threadId });
    expect(query.data?.thread ?? null).toBeNull();
    expect(JSON.stringify(query)).toMatch(GONE);
  }

  beforeAll(async () => {
    a = await bootServer({ redis: true });
    const target = new URL(TEST_REDIS_URL);
    redisProxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await redisProxy.start();
    b = await bootServer({ db: a.db, env: { REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` } });
    org = new OrgBuilder(a.app, 'Access Co');
    W = org.workspace('West');
    owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
    watcher = await org.login(await org.user('Watcher', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    threadId = await startThread(nextPhone());
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(sockets.map((s) => s.dispose()));
    await b?.close();
    await a?.close();
    await redisProxy?.cut();
  });

  /** A supervisor's socket on B watching the workspace: the signal that B has read the log this far. */
  async function witnessOnB(): Promise<Live> {
    const w = subscribe(socketOnB(watcher.token), INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([w]);
    return w;
  }

  it('logout closes the socket of that session (4403) on the other server', { timeout: 120_000 }, async () => {
    const victim = await org.login(await org.user('LogoutVictim', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    await ok(a, victim.token, `mutation { logout }`);
    await expectCredentialGone(socket, running, witness);
    witness.dispose();
  });

  it('revokeAllSessions closes every socket of the user', { timeout: 120_000 }, async () => {
    const user = await org.user('AllSessions', [{ workspace: W, roles: [Role.SUPERVISOR] }]);
    const first = await org.login(user);
    const second = await org.login(user);
    const witness = await witnessOnB();
    const socket = socketOnB(second.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    const r = await ok(a, first.token, `mutation { revokeAllSessions { count } }`);
    expect(r.revokeAllSessions.count).toBe(2);
    await expectCredentialGone(socket, running, witness);
    witness.dispose();
  });

  it('revokeApiKey closes the sockets of that key', { timeout: 120_000 }, async () => {
    const key = await ok(a, owner.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "reader", permissions: [WORKSPACE_READ, THREADS_READ, THREADS_READ_ALL, MESSAGES_READ_BODY] }) { apiKey { id } secret } }`, { w: W.id });
    const witness = await witnessOnB();
    const socket = socketOnB(key.createApiKey.secret);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    await ok(a, owner.token, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: key.createApiKey.apiKey.id });
    await expectCredentialGone(socket, running, witness);
    witness.dispose();
  });

  it('deactivateUser closes the user\'s sockets; nothing runs on them afterwards, not even a mutation', { timeout: 120_000 }, async () => {
    const victim = await org.login(await org.user('Deactivated', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    await ok(a, owner.token, `mutation($u: ID!) { deactivateUser(userId: $u) { id } }`, { u: victim.id });
    await expectCredentialGone(socket, running, witness);
    const write = await operate(socket, `mutation($t: ID!) { sendMessage(input: { threadId: $t, body: "from a ghost" }) { id } }`, { t: threadId });
    expect(write.data?.sendMessage ?? null).toBeNull();
    const db = new pg.Client({ connectionString: a.db.url });
    await db.connect();
    const written = await db.query(`select count(*)::int as n from messages where body = 'from a ghost'`);
    await db.end();
    expect(written.rows[0].n).toBe(0);
    witness.dispose();
  });

  it('a session past its expiry closes its socket at expiry', { timeout: 120_000 }, async () => {
    const victim = await org.login(await org.user('Expiring', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const db = new pg.Client({ connectionString: a.db.url });
    await db.connect();
    await db.query(`update sessions set expires_at = now() + interval '8 seconds' where user_id = $1`, [victim.id]);
    await db.end();
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    await expectCredentialGone(socket, running, witness);
    expect(socket.closeCode).toBe(4403);
    witness.dispose();
  });

  it('removing the membership ends the running subscription (FORBIDDEN); the socket stays, with no access', { timeout: 120_000 }, async () => {
    const victim = await org.login(await org.user('Removed', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    await membership(victim.id, []);
    await until('the running subscription ended', () => running.endedAt !== null);
    expect(running.error).toContain('FORBIDDEN');
    const marker = await sendAndWitness(witness);
    expect(bodies(running)).not.toContain(marker);
    const again = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await until('the new subscription was refused', () => again.endedAt !== null);
    expect(again.error).toContain('FORBIDDEN');
    const query = await operate(socket, THREAD, { t: threadId });
    expect(query.data?.thread ?? null).toBeNull();
    expect(JSON.stringify(query)).toMatch(/FORBIDDEN|NOT_FOUND/);
    expect(socket.connects).toBe(1);
    witness.dispose();
  });

  it('lowering a role (supervisor to viewer): the running subscription goes on without bodies; new ones and queries too', { timeout: 120_000 }, async () => {
    const victim = await org.login(await org.user('Lowered', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    expect(bodies(running).every((b) => b !== null)).toBe(true);
    await membership(victim.id, [Role.VIEWER]);
    const marker = await sendAndWitness(witness);
    expect((await sameEvent(running, witness, marker)).message.body).toBeNull();
    expect(bodies(running)).not.toContain(marker);
    expect(running.endedAt).toBeNull();
    const again = subscribe(socket, THREAD_EVENTS, { t: threadId }, (d) => d.threadEvents);
    await warm([again]);
    expect(bodies(again).every((b) => b === null)).toBe(true);
    const query = await operate(socket, THREAD, { t: threadId });
    expect(query.data.thread.messages.edges.length).toBeGreaterThan(0);
    expect(query.data.thread.messages.edges.every((e: any) => e.node.body === null)).toBe(true);
    expect(socket.connects).toBe(1);
    witness.dispose();
  });

  it('updateCustomRole removing MESSAGES_READ_BODY hides bodies from the running subscription, new ones and queries', { timeout: 120_000 }, async () => {
    const role = await ok(a, owner.token, `mutation { createCustomRole(name: "Body reader", permissions: [MESSAGES_READ_BODY]) { id } }`);
    const roleId = role.createCustomRole.id as string;
    const victim = await org.login(await org.user('CustomRoleHolder', [{ workspace: W, roles: [Role.VIEWER] }]));
    await membership(victim.id, [Role.VIEWER], { customRoleIds: [roleId] });
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    expect(bodies(running).some((b) => b !== null)).toBe(true);
    await ok(a, owner.token, `mutation($id: ID!) { updateCustomRole(id: $id, permissions: [NOTES_READ]) { id } }`, { id: roleId });
    const marker = await sendAndWitness(witness);
    expect((await sameEvent(running, witness, marker)).message.body).toBeNull();
    expect(bodies(running)).not.toContain(marker);
    const again = subscribe(socket, THREAD_EVENTS, { t: threadId }, (d) => d.threadEvents);
    await warm([again]);
    expect(bodies(again).every((b) => b === null)).toBe(true);
    const query = await operate(socket, THREAD, { t: threadId });
    expect(query.data.thread.messages.edges.every((e: any) => e.node.body === null)).toBe(true);
    expect(socket.connects).toBe(1);
    witness.dispose();
  });

  it('deleteCustomRole (after it is taken off its holder) leaves nothing of it on the socket', { timeout: 120_000 }, async () => {
    // A held custom role cannot be deleted (CONFLICT); taking it off and deleting it is one access change each.
    const role = await ok(a, owner.token, `mutation { createCustomRole(name: "Doomed reader", permissions: [MESSAGES_READ_BODY]) { id } }`);
    const roleId = role.createCustomRole.id as string;
    const victim = await org.login(await org.user('DoomedHolder', [{ workspace: W, roles: [Role.VIEWER] }]));
    await membership(victim.id, [Role.VIEWER], { customRoleIds: [roleId] });
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running]);
    expect(bodies(running).some((b) => b !== null)).toBe(true);
    const refused = await a.gql<any>(`mutation($id: ID!) { deleteCustomRole(id: $id) }`, { id: roleId }, { token: owner.token });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    await membership(victim.id, [Role.VIEWER], { customRoleIds: [] });
    await ok(a, owner.token, `mutation($id: ID!) { deleteCustomRole(id: $id) }`, { id: roleId });
    const marker = await sendAndWitness(witness);
    expect((await sameEvent(running, witness, marker)).message.body).toBeNull();
    expect(bodies(running)).not.toContain(marker);
    const query = await operate(socket, THREAD, { t: threadId });
    expect(query.data.thread.messages.edges.every((e: any) => e.node.body === null)).toBe(true);
    witness.dispose();
  });

  it('removeAgentGroupMember stops delivery of the group\'s threads to the removed agent', { timeout: 120_000 }, async () => {
    const agent = await org.login(await org.user('GroupAgent', [{ workspace: W, roles: [Role.AGENT] }]));
    const group = await ok(a, owner.token, `mutation($w: ID!) { createAgentGroup(workspaceId: $w, name: "Night shift") { id } }`, { w: W.id });
    const groupId = group.createAgentGroup.id as string;
    await ok(a, owner.token, `mutation($g: ID!, $u: ID!) { addAgentGroupMember(groupId: $g, userId: $u) { id } }`, { g: groupId, u: agent.id });
    const groupThread = await startThread(nextPhone());
    await ok(a, owner.token, `mutation($t: ID!, $g: ID!) { assignThread(threadId: $t, groupId: $g) { id } }`, { t: groupThread, g: groupId });
    const ownThread = await startThread(nextPhone());
    await ok(a, owner.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: ownThread, u: agent.id });
    const socket = socketOnB(agent.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running], groupThread);
    await ok(a, owner.token, `mutation($g: ID!, $u: ID!) { removeAgentGroupMember(groupId: $g, userId: $u) { id } }`, { g: groupId, u: agent.id });
    const hidden = `group-${Date.now()}`;
    await send(groupThread, hidden);
    // A later message on the agent's own thread: once it arrives, the group message has been decided on.
    const own = `own-${Date.now()}`;
    await send(ownThread, own);
    await until('the agent received the message on their own thread', () => bodies(running).includes(own));
    expect(bodies(running)).not.toContain(hidden);
    expect(running.endedAt).toBeNull();
    const again = subscribe(socket, THREAD_EVENTS, { t: groupThread }, (d) => d.threadEvents);
    await until('the group thread subscription was refused', () => again.endedAt !== null);
    expect(again.error).toMatch(/NOT_FOUND|FORBIDDEN/);
    const query = await operate(socket, THREAD, { t: groupThread });
    expect(query.data?.thread ?? null).toBeNull();
    expect(JSON.stringify(query)).toMatch(/NOT_FOUND|FORBIDDEN/);
    expect(socket.connects).toBe(1);
  });

  it('unread badges drop the threads of an agent group the agent was removed from', { timeout: 120_000 }, async () => {
    const agent = await org.login(await org.user('BadgeAgent', [{ workspace: W, roles: [Role.AGENT] }]));
    await ok(a, agent.token, `mutation { setAvailability(availability: ONLINE) { availability } }`);
    const group = await ok(a, owner.token, `mutation($w: ID!) { createAgentGroup(workspaceId: $w, name: "Badge shift") { id } }`, { w: W.id });
    const groupId = group.createAgentGroup.id as string;
    await ok(a, owner.token, `mutation($g: ID!, $u: ID!) { addAgentGroupMember(groupId: $g, userId: $u) { id } }`, { g: groupId, u: agent.id });
    const key = await ok(a, owner.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gateway", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id });
    const inbound = await ok(a, key.createApiKey.secret, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, { i: { workspaceId: W.id, from: nextPhone(), body: 'unread for the group' } });
    await ok(a, owner.token, `mutation($t: ID!, $g: ID!) { assignThread(threadId: $t, groupId: $g) { id } }`, { t: inbound.ingestInboundMessage.threadId, g: groupId });
    const socket = socketOnB(agent.token);
    const badge = subscribe(socket, BADGE, { w: W.id }, (d) => d.unreadCounts);
    await until('the first badge', () => badge.events.length > 0);
    expect(badge.events[0].threads).toBe(1);
    await ok(a, owner.token, `mutation($g: ID!, $u: ID!) { removeAgentGroupMember(groupId: $g, userId: $u) { id } }`, { g: groupId, u: agent.id });
    await until('the badge dropped the group thread', () => badge.events.at(-1).threads === 0);
    expect(badge.endedAt).toBeNull();
  });

  it('removing an add-on takes its permission off the socket (queries and mutations on it)', { timeout: 120_000 }, async () => {
    const agent = await org.login(await org.user('Transferrer', [{ workspace: W, roles: [Role.AGENT], addOns: [AddOn.TRANSFER] }]));
    const mine = await startThread(nextPhone());
    await ok(a, owner.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: mine, u: agent.id });
    const socket = socketOnB(agent.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([running], mine);
    const permissions = async () => {
      const r = await operate(socket, ME);
      return (r.data.me.permissions as Array<{ workspaceId: string; permissions: string[] }>).flatMap((p) => p.permissions);
    };
    expect(await permissions()).toContain('THREADS_TRANSFER');
    await membership(agent.id, [Role.AGENT]);
    // The agent's own thread: once this arrives, B has read the change that precedes it.
    const marker = await sendAndWitness(running, mine);
    expect(bodies(running)).toContain(marker);
    expect(await permissions()).not.toContain('THREADS_TRANSFER');
    const transfer = await operate(socket, `mutation($t: ID!, $u: ID!) { transferThread(threadId: $t, toUserId: $u) { id } }`, { t: mine, u: watcher.id });
    expect(JSON.stringify(transfer)).toContain('FORBIDDEN');
    expect(running.endedAt).toBeNull();
    const again = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    await warm([again], mine);
    expect(socket.connects).toBe(1);
  });

  it('a role removed while Redis is cut is enforced by the poll, before any later event reaches the socket', { timeout: 120_000 }, async () => {
    const victim = await org.login(await org.user('CutVictim', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const socket = socketOnB(victim.token);
    const running = subscribe(socket, INBOX, { w: W.id }, (d) => d.inboxEvents);
    const badge = subscribe(socket, BADGE, { w: W.id }, (d) => d.unreadCounts);
    await warm([running]);
    await until('the badge arrived', () => badge.events.length > 0);
    await redisProxy.cut();
    try {
      const t0 = Date.now();
      await membership(victim.id, [Role.MARKETER]);
      // Sent at once: it must never reach the socket, whether B reads it in the same poll as the change or later.
      const after = `cut-${Date.now()}`;
      await send(threadId, after);
      await until('the running subscription ended', () => running.endedAt !== null);
      await until('the badge subscription ended', () => badge.endedAt !== null);
      console.log(`with Redis cut: role removal enforced on the other server ${running.endedAt! - t0} ms after the mutation started`);
      expect(running.error).toContain('FORBIDDEN');
      expect(badge.error).toContain('FORBIDDEN');
      expect(bodies(running)).not.toContain(after);
      const query = await operate(socket, THREAD, { t: threadId });
      expect(query.data?.thread ?? null).toBeNull();
    } finally {
      await redisProxy.restore();
    }
  });

  it('change -> enforced latency over 20 trials (role removal on A, subscription on B ends)', { timeout: 300_000 }, async () => {
    const victim = await org.login(await org.user('Trials', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const witness = await witnessOnB();
    const socket = socketOnB(victim.token);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      // The badge's first value is the signal that the subscription is registered and live.
      const live = subscribe(socket, BADGE, { w: W.id }, (d) => d.unreadCounts);
      await until('the badge arrived', () => live.events.length > 0 || live.endedAt !== null);
      expect(live.error).toBeNull();
      const t0 = Date.now();
      await membership(victim.id, [Role.MARKETER]);
      await until('the subscription ended', () => live.endedAt !== null);
      expect(live.error).toContain('FORBIDDEN');
      latencies.push(live.endedAt! - t0);
      await membership(victim.id, [Role.SUPERVISOR]);
      // B has read the re-grant once the witness has a message sent after it.
      await sendAndWitness(witness);
    }
    witness.dispose();
    console.log(`access change -> enforced on the other server, 20 trials: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms (all: ${latencies.join(', ')})`);
    expect(socket.connects).toBe(1);
  });
});
