import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { AddOn, Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { TcpProxy } from '../support/tcp-proxy';
import { TEST_REDIS_URL } from '../support/services';
import { collect, exactlyOnceProblems, hubSkips } from './support';
import { until } from '../support/wait';
import { readLog } from '../../server/src/realtime/event-log';
import { decodeEventCursor, encodeEventCursor } from '../../server/src/realtime/events';
import { spawnServer, waitForReady } from '../support/process';
import { createClient } from 'graphql-ws';
import { TAKE_EVENT_WRITER_LOCK } from '../../server/src/db/event-writer-lock';
import WebSocket from 'ws';
import { api } from '../support/api';

const INBOX = `subscription($w: ID!, $after: String) { inboxEvents(workspaceId: $w, after: $after) { cursor type threadId message { body direction } assignment { kind toUserId } } }`;
const THREAD = `subscription($t: ID!, $after: String) { threadEvents(threadId: $t, after: $after) { cursor type message { body } } }`;

describe('live events across two server processes', () => {
  let a: TestServer;
  let b: TestServer;
  let redisProxy: TcpProxy;
  let org: OrgBuilder;
  let other: OrgBuilder;
  let W: Workspace, S: Workspace, X: Workspace;
  let supervisor: FixtureUser, agent: FixtureUser, mover: FixtureUser, viewer: FixtureUser, outsider: FixtureUser, southSup: FixtureUser, admin: FixtureUser;
  const bQueries: string[] = [];

  const ok = (server: TestServer, token: string, query: string, variables?: Record<string, unknown>) => api(server).as(token).ok<any>(query, variables);
  const start = (server: TestServer, token: string, phone: string, body = 'Hello') =>
    ok(server, token, `mutation($w: ID!, $p: String!, $b: String!) { startThread(input: { workspaceId: $w, phone: $p, body: $b }) { id } }`, { w: W.id, p: phone, b: body }).then((d) => d.startThread.id as string);
  const send = (server: TestServer, token: string, threadId: string, body: string) =>
    ok(server, token, `mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: threadId, b: body });
  const client = (server: TestServer, token: string) => server.wsClient({ connectionParams: { authorization: `Bearer ${token}` } });
  /** Where the log stands: a subscription with `after` set to it gets everything from here, however late it registers. */
  const cursorNow = () => ok(a, supervisor.token, `{ liveCursor }`).then((d) => d.liveCursor as string);
  const startIn = (server: TestServer, token: string, workspaceId: string, phone: string, body: string) =>
    ok(server, token, `mutation($w: ID!, $p: String!, $b: String!) { startThread(input: { workspaceId: $w, phone: $p, body: $b }) { id } }`, { w: workspaceId, p: phone, b: body }).then((d) => d.startThread.id as string);

  beforeAll(async () => {
    a = await bootServer({ redis: true });
    const target = new URL(TEST_REDIS_URL);
    redisProxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await redisProxy.start();
    // B runs no snooze sweep: the fan-out test counts every statement B runs beside the tailer (A sweeps).
    b = await bootServer({ db: a.db, env: { REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` }, onQuery: (q) => bQueries.push(q), sweepSnoozes: false, rollups: false });
    org = new OrgBuilder(a.app, 'Live Co');
    W = org.workspace('West');
    S = org.workspace('South');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
    mover = await org.login(await org.user('Mover', [{ workspace: W, roles: [Role.AGENT], addOns: [AddOn.TRANSFER] }]));
    viewer = await org.login(await org.user('Viewer', [{ workspace: W, roles: [Role.VIEWER] }]));
    southSup = await org.login(await org.user('SouthSup', [{ workspace: S, roles: [Role.SUPERVISOR] }]));
    other = new OrgBuilder(a.app, 'Other Co');
    X = other.workspace('Elsewhere');
    outsider = await other.login(await other.user('Outsider', [{ workspace: X, roles: [Role.SUPERVISOR] }]));
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await redisProxy.cut();
  });

  it('a mutation on one server reaches a subscriber on the other; other workspaces and organizations see nothing', async () => {
    const after = await cursorNow();
    const mine = collect(client(b, supervisor.token), INBOX, { w: W.id, after }, (d) => d.inboxEvents);
    const south = collect(client(b, southSup.token), INBOX, { w: S.id, after }, (d) => d.inboxEvents);
    const outside = collect(client(b, outsider.token), INBOX, { w: X.id, after }, (d) => d.inboxEvents);
    const foreign = collect(client(b, outsider.token), INBOX, { w: W.id, after }, (d) => d.inboxEvents);
    const threadId = await start(a, supervisor.token, '+15553000001', 'Hi from A');
    await send(a, supervisor.token, threadId, 'Second');
    const events = await mine.waitFor(2);
    expect(events.map((e) => [e.type, e.message?.body])).toEqual([['THREAD_CREATED', 'Hi from A'], ['MESSAGE_ADDED', 'Second']]);
    // A marker each other subscriber may see, sent after: anything leaked to them would have come before it.
    await startIn(a, southSup.token, S.id, '+15553000011', 'south marker');
    await startIn(a, outsider.token, X.id, '+15553000012', 'outside marker');
    expect((await south.waitFor(1)).map((e) => e.message?.body)).toEqual(['south marker']);
    expect((await outside.waitFor(1)).map((e) => e.message?.body)).toEqual(['outside marker']);
    // Subscribing to another organization's workspace is refused outright.
    await foreign.waitForEnd(30_000);
    expect(foreign.errors.length).toBe(1);
    expect(foreign.events).toEqual([]);
    for (const s of [mine, south, outside, foreign]) s.dispose();
  });

  it('reaches a subscriber on a separate OS process too (the compiled server, sharing Postgres and Redis)', async () => {
    const proc = spawnServer({ DATABASE_URL: a.db.url, REDIS_URL: TEST_REDIS_URL, PORT: '0', SEED_DEMO: 'false', LOG_LEVEL: 'warn' });
    try {
      const url = await waitForReady(proc);
      const remote = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${supervisor.token}` } });
      const stream = collect(remote, INBOX, { w: W.id, after: await cursorNow() }, (d) => d.inboxEvents);
      const threadId = await start(a, supervisor.token, '+15553000009', 'to another process');
      const [event] = await stream.waitFor(1);
      expect(event).toMatchObject({ type: 'THREAD_CREATED', threadId, message: { body: 'to another process' } });
      stream.dispose();
      await remote.dispose();
    } finally {
      proc.proc.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    }
  });

  it('authorises each event: agents see their threads until transferred away; viewers get no bodies', async () => {
    const threadId = await start(a, supervisor.token, '+15553000002', 'Assigned soon');
    await ok(a, supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: threadId, u: mover.id });
    // Only what happens after subscribing (an event committed at the very moment of subscribing may or may not be included).
    const later = (e: any) => (e.type === 'MESSAGE_ADDED' && e.message?.body?.startsWith('For the')) || e.assignment?.kind === 'transfer';
    const after = await cursorNow();
    const moverStream = collect(client(b, mover.token), INBOX, { w: W.id, after }, (d) => d.inboxEvents, later);
    const agentStream = collect(client(b, agent.token), INBOX, { w: W.id, after }, (d) => d.inboxEvents, later);
    const viewerClient = client(b, viewer.token);
    const viewerStream = collect(viewerClient, THREAD, { t: threadId, after }, (d) => d.threadEvents);
    await send(a, supervisor.token, threadId, 'For the mover');
    await moverStream.waitFor(1);
    await ok(a, mover.token, `mutation($t: ID!, $u: ID!) { transferThread(threadId: $t, toUserId: $u, reason: "end of shift") { id } }`, { t: threadId, u: agent.id });
    await send(a, supervisor.token, threadId, 'For the agent now');
    await agentStream.waitFor(2);
    // A marker for the mover on a thread of theirs: 'For the agent now', had it leaked, would have come before it.
    const markerThread = await start(a, supervisor.token, '+15553000014', 'marker thread');
    await ok(a, supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: markerThread, u: mover.id });
    await send(a, supervisor.token, markerThread, 'For the mover: marker');
    await moverStream.waitFor(3);
    expect(moverStream.events.map((e) => e.type)).toEqual(['MESSAGE_ADDED', 'ASSIGNMENT_CHANGED', 'MESSAGE_ADDED']);
    expect(moverStream.events[2].message.body).toBe('For the mover: marker');
    expect(agentStream.events.map((e) => e.type)).toEqual(['ASSIGNMENT_CHANGED', 'MESSAGE_ADDED']);
    expect(agentStream.events[1].message.body).toBe('For the agent now');
    await viewerStream.waitFor(3);
    expect(viewerStream.events.filter((e) => e.message).every((e) => e.message.body === null)).toBe(true);
    for (const s of [moverStream, agentStream, viewerStream]) s.dispose();
  });

  it('shares an event\'s execution only between subscribers with the same view: a viewer beside a supervisor still gets no body', async () => {
    const threadId = await start(a, supervisor.token, '+15553000009', 'shared view');
    // The same operation text and variables on the same server: one parsed document, one event object.
    const after = await cursorNow();
    const sup = collect(client(b, supervisor.token), THREAD, { t: threadId, after }, (d) => d.threadEvents);
    const view = collect(client(b, viewer.token), THREAD, { t: threadId, after }, (d) => d.threadEvents);
    const sup2 = collect(client(b, supervisor.token), THREAD, { t: threadId, after }, (d) => d.threadEvents);
    await send(a, supervisor.token, threadId, 'only for readers of bodies');
    const [forSupervisor, forViewer, forSecond] = await Promise.all([sup.waitFor(1), view.waitFor(1), sup2.waitFor(1)]);
    expect(forSupervisor[0].message.body).toBe('only for readers of bodies');
    expect(forSecond[0].message.body).toBe('only for readers of bodies');
    expect(forViewer[0].message.body).toBeNull();
    expect(forViewer[0].cursor).toBe(forSupervisor[0].cursor);
    for (const s of [sup, view, sup2]) s.dispose();
  });

  it('ends subscriptions with FORBIDDEN within a second when a role is removed or the user deactivated', async () => {
    const victim = await org.login(await org.user('Temp', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const other = await org.login(await org.user('Temp2', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    const s1 = collect(client(b, victim.token), INBOX, { w: W.id }, (d) => d.inboxEvents);
    const s2 = collect(client(b, other.token), INBOX, { w: W.id }, (d) => d.inboxEvents);
    // Both streams are live once they carry an event sent now.
    const live = await start(a, supervisor.token, '+15553000015', 'are you live?');
    for (let i = 0; !(s1.events.length && s2.events.length); i++) {
      await send(a, supervisor.token, live, `live? ${i}`);
      await Promise.all([s1.waitFor(1, 2_000), s2.waitFor(1, 2_000)]).catch(() => undefined);
      if (i > 30) throw new Error('the streams never went live');
    }
    let t0 = Date.now();
    await ok(a, admin.token, `mutation($u: ID!, $w: ID!) { updateMembership(input: { userId: $u, workspaceId: $w, roles: [MARKETER] }) { id } }`, { u: victim.id, w: W.id });
    await s1.waitForEnd(30_000);
    const removedMs = Date.now() - t0;
    expect(JSON.stringify(s1.errors)).toContain('FORBIDDEN');
    t0 = Date.now();
    await ok(a, admin.token, `mutation($u: ID!) { deactivateUser(userId: $u) { id } }`, { u: other.id });
    await s2.waitForEnd(30_000);
    const deactivatedMs = Date.now() - t0;
    expect(JSON.stringify(s2.errors)).toMatch(/FORBIDDEN|4403/);
    console.log(`subscription ended ${removedMs} ms after a role removal, ${deactivatedMs} ms after deactivation`);
  });

  it('resumes from a cursor with no gap and no duplicate, on either server; an expired cursor is refused', async () => {
    const threadId = await start(a, supervisor.token, '+15553000003', 'm0');
    const first = collect(client(a, supervisor.token), THREAD, { t: threadId, after: await cursorNow() }, (d) => d.threadEvents, (e) => e.type === 'MESSAGE_ADDED' && /^m[1-9]$/.test(e.message?.body ?? ''));
    for (let i = 1; i <= 5; i++) await send(a, supervisor.token, threadId, `m${i}`);
    await first.waitFor(5);
    first.dispose();
    const cursor = first.events[2].cursor; // seen m1..m3
    for (let i = 6; i <= 8; i++) await send(a, supervisor.token, threadId, `m${i}`);
    const resumed = collect(client(b, supervisor.token), THREAD, { t: threadId, after: cursor }, (d) => d.threadEvents);
    await resumed.waitFor(5);
    await send(a, supervisor.token, threadId, 'm9');
    await send(a, supervisor.token, threadId, 'm10');
    await resumed.waitFor(7);
    // A duplicate or a replayed event would sit before m10.
    expect(resumed.events.map((e) => e.message.body)).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    resumed.dispose();

    const db = new pg.Client({ connectionString: a.db.url });
    await db.connect();
    await db.query(`insert into event_log_watermark (id, xid, event_id) values (1, pg_current_xact_id(), 9223372036854775000) on conflict (id) do update set xid = excluded.xid, event_id = excluded.event_id`);
    await db.end();
    const expired = collect(client(b, supervisor.token), THREAD, { t: threadId, after: cursor }, (d) => d.threadEvents);
    await expired.waitForEnd();
    expect(JSON.stringify(expired.errors)).toContain('CURSOR_EXPIRED');
    const db2 = new pg.Client({ connectionString: a.db.url });
    await db2.connect();
    await db2.query('delete from event_log_watermark');
    await db2.end();
  });

  it('delivers in commit-safe order: an event never overtakes an earlier transaction that commits later', async () => {
    const threadId = await start(a, supervisor.token, '+15553000004', 'start');
    const after = await cursorNow();
    const stream = collect(client(b, supervisor.token), THREAD, { t: threadId, after }, (d) => d.threadEvents);
    const slow = new pg.Client({ connectionString: a.db.url });
    await slow.connect();
    const ids = await slow.query(`select organization_id, workspace_id from threads where id = $1`, [threadId]);
    const { organization_id, workspace_id } = ids.rows[0];
    const payload = (body: string) => JSON.stringify({ thread: { id: threadId, status: 'OPEN', archived: false, needsResponse: false, assigneeUserId: null, assigneeGroupId: null, lastActivityAt: new Date().toISOString(), campaignId: null }, message: { id: threadId, direction: 'OUTBOUND', body, status: 'QUEUED', authorId: null, automated: false, createdAt: new Date().toISOString() } });
    await slow.query('begin');
    await slow.query(TAKE_EVENT_WRITER_LOCK);
    await slow.query(`insert into events (organization_id, workspace_id, type, thread_id, payload) values ($1, $2, 'MESSAGE_ADDED', $3, $4)`, [organization_id, workspace_id, threadId, payload('early')]);
    const fast = new pg.Client({ connectionString: a.db.url });
    await fast.connect();
    await fast.query('begin');
    await fast.query(TAKE_EVENT_WRITER_LOCK);
    await fast.query(`insert into events (organization_id, workspace_id, type, thread_id, payload) values ($1, $2, 'MESSAGE_ADDED', $3, $4)`, [organization_id, workspace_id, threadId, payload('late')]);
    await fast.query('commit');
    await fast.end();
    // What the tailer can read while the slow writer is open: 'late' committed, yet it is held back.
    const readable = await readLog(b.app.orm.em.fork(), decodeEventCursor(after)!, 500);
    expect(readable.events.map((e) => (e.payload.message as { body?: string } | undefined)?.body)).not.toContain('late');
    const ours = () => stream.events.map((e) => e.message?.body).filter((body) => body === 'early' || body === 'late');
    expect(ours()).toEqual([]);
    await slow.query('commit');
    await slow.end();
    b.app.hub.wake();
    await until(() => ours().length >= 2, 'early and late');
    expect(ours()).toEqual(['early', 'late']);
    stream.dispose();
  });

  it('fans out with no database query per event per subscriber', async () => {
    const threadId = await start(a, supervisor.token, '+15553000005', 'fan-out');
    const after = await cursorNow();
    const streams = Array.from({ length: 10 }, () => collect(client(b, supervisor.token), THREAD, { t: threadId, after }, (d) => d.threadEvents));
    // Every stream is registered (its set-up queries done) once it carries a marker.
    await send(a, supervisor.token, threadId, 'f-ready');
    await Promise.all(streams.map((s) => s.waitFor(1, 30_000)));
    const countEvents = async () => {
      const c = new pg.Client({ connectionString: a.db.url });
      await c.connect();
      const r = await c.query(`select count(*)::int as n from events`);
      await c.end();
      return r.rows[0].n as number;
    };
    const eventsBefore = await countEvents();
    bQueries.length = 0;
    const started = Date.now();
    for (let i = 0; i < 20; i++) await send(a, supervisor.token, threadId, `f${i}`);
    await Promise.all(streams.map((s) => s.waitFor(21, 60_000)));
    // Reads are counted first, then the time and the events logged so far (both only grow): a sound bound.
    const reads = bQueries.filter((q) => /from events/.test(q)).length;
    const others = bQueries.filter((q) => !/from events/.test(q));
    const elapsed = Date.now() - started;
    // Each send also logs its delivery receipts (SENT, DELIVERED): every logged event may cause one wake-up.
    const logged = (await countEvents()) - eventsBefore;
    console.log(`fan-out: 20 messages x 10 subscribers = 200 message deliveries in ${elapsed} ms, ${logged} events logged, ${reads} event-log reads, ${others.length} other queries on the receiving server`);
    expect(others).toEqual([]);
    // The tailer reads once per wake-up (at most one per logged event, coalesced) plus once per 500 ms poll:
    // the count depends on events and time, never on the number of subscribers (10 here, 200 deliveries).
    expect(reads).toBeLessThanOrEqual(logged + Math.ceil(elapsed / 500) + 2);
    expect(reads).toBeLessThan(200);
    for (const s of streams) s.dispose();
  });

  it('streams the agent dashboard: a snapshot, then updates on availability and assignment', async () => {
    const dash = collect(client(b, supervisor.token), `subscription($w: ID!) { agentDashboard(workspaceId: $w) { workspaceId agents { name availability openThreads waitingThreads } } }`, { w: W.id }, (d) => d.agentDashboard, () => true);
    const first = (await dash.waitFor(1))[0];
    expect(first.agents.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['Agent', 'Mover']));
    await ok(a, agent.token, `mutation { setAvailability(availability: ONLINE) { availability } }`);
    const threadId = await start(a, supervisor.token, '+15553000007', 'for the dashboard');
    const before = first.agents.find((x: { name: string }) => x.name === 'Agent').openThreads;
    await ok(a, supervisor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id } }`, { t: threadId, u: agent.id });
    const agentRow = () => dash.events.at(-1).agents.find((x: { name: string }) => x.name === 'Agent');
    await until(() => agentRow().availability === 'ONLINE' && agentRow().openThreads === before + 1, 'the dashboard to show the assignment').catch(() => undefined);
    const row = dash.events.at(-1).agents.find((x: { name: string }) => x.name === 'Agent');
    expect(row).toMatchObject({ availability: 'ONLINE', openThreads: before + 1 });
    dash.dispose();
    const denied = collect(client(b, agent.token), `subscription($w: ID!) { agentDashboard(workspaceId: $w) { workspaceId } }`, { w: W.id }, (d) => d.agentDashboard, () => true);
    await denied.waitForEnd();
    expect(JSON.stringify(denied.errors)).toContain('FORBIDDEN');
  });

  it('keeps unread badges live: offline staff wait, admins always receive them', async () => {
    const key = await ok(a, admin.token, `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "gw", permissions: [MESSAGES_INGEST] }) { secret } }`, { w: W.id });
    const inbound = (from: string, body: string) =>
      ok(a, key.createApiKey.secret, `mutation($i: InboundMessageInput!) { ingestInboundMessage(input: $i) { threadId } }`, { i: { workspaceId: W.id, from, body } });
    await ok(a, supervisor.token, `mutation { setAvailability(availability: OFFLINE) { availability } }`);
    const BADGE = `subscription($w: ID!) { unreadCounts(workspaceId: $w) { threads messages } }`;
    const sup = collect(client(b, supervisor.token), BADGE, { w: W.id }, (d) => d.unreadCounts, () => true);
    const adm = collect(client(b, admin.token), BADGE, { w: W.id }, (d) => d.unreadCounts, () => true);
    const [supFirst] = await sup.waitFor(1);
    const [admFirst] = await adm.waitFor(1);
    const t = (await inbound('+15553000008', 'Anyone there?')).ingestInboundMessage.threadId;
    await adm.waitFor(2);
    expect(adm.events[1].messages).toBe(admFirst.messages + 1);
    // Offline, and no UNREAD_BADGES_WHEN_OFFLINE: no badge now. One sent anyway would come before the next
    // two and shift them (checked by the counts below and the final length).
    await ok(a, supervisor.token, `mutation { setAvailability(availability: ONLINE) { availability } }`);
    await sup.waitFor(2);
    expect(sup.events[1].messages).toBe(supFirst.messages + 1);
    await ok(a, supervisor.token, `mutation($t: ID!) { markThreadRead(threadId: $t) { id } }`, { t });
    await sup.waitFor(3);
    expect(sup.events[2].messages).toBe(supFirst.messages);
    expect(sup.events).toHaveLength(3);
    sup.dispose();
    adm.dispose();
  });

  // CI streams CHAOS_MESSAGES (default 200); bench/loop-live.sh runs 1,000, fifty times in a row under load.
  const N = Number(process.env.CHAOS_MESSAGES ?? 200);
  const at = (fraction: number) => Math.round((N * fraction) / 10) * 10;
  it(`streams ${N} messages while Redis is cut twice: every resumed client has all ${N} in order`, { timeout: 600_000 }, async () => {
    const threadId = await start(a, supervisor.token, '+15553000006', 'bulk start');
    const bulk = (e: any) => e.type === 'MESSAGE_ADDED' && e.message?.body?.startsWith('bulk-');
    const after = await cursorNow();
    const onB = collect(client(b, supervisor.token), THREAD, { t: threadId, after }, (d) => d.threadEvents, bulk);
    let onA = collect(client(a, supervisor.token), THREAD, { t: threadId, after }, (d) => d.threadEvents, bulk);
    const fromA: any[] = [];
    const fieldErrorsA: unknown[] = [];
    // Ten sends in flight at a time: the order to hold is the log's commit order, read back below.
    for (let i = 0; i < N; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => send(a, supervisor.token, threadId, `bulk-${i + j}`)));
      if (i === at(0.25) || i === at(0.65)) await redisProxy.cut();
      if (i === at(0.3)) {
        // While its Redis is away, server B still answers queries, and says it is degraded.
        const ready = await fetch(b.url.replace(/\/graphql$/, '/readyz'));
        expect(ready.status).toBe(200);
        expect(((await ready.json()) as { status: string }).status).toBe('degraded');
        await ok(b, supervisor.token, `query($t: ID!) { thread(id: $t) { id } }`, { t: threadId });
      }
      if (i === at(0.4) || i === at(0.8)) await redisProxy.restore();
      if (i === at(0.5)) {
        // A client drops and resumes from its last cursor.
        onA.dispose();
        fromA.push(...onA.events);
        fieldErrorsA.push(...onA.fieldErrors, ...onA.received.filter((e) => !bulk(e) && e?.type === 'MESSAGE_ADDED'));
        const last = fromA.at(-1).cursor;
        onA = collect(client(a, supervisor.token), THREAD, { t: threadId, after: last }, (d) => d.threadEvents, bulk);
      }
    }
    // On a timeout, say what is missing and where each tailer stands, so a failure in CI can be diagnosed.
    const explain = async (err: unknown) => {
      const c = new pg.Client({ connectionString: a.db.url });
      await c.connect();
      const state = await c.query(`select pg_current_snapshot()::text as snapshot,
        (select json_agg(json_build_object('db', datname, 'xid', backend_xid::text, 'state', state, 'since', xact_start, 'query', left(query, 80)))
           from pg_stat_activity where backend_xid is not null) as writers,
        (select max(xid::text::bigint) from events) as newest_event`);
      await c.end();
      console.log(`hub A: ${await hubSkips(a.app.hub, a.db.url)}\nhub B: ${await hubSkips(b.app.hub, b.db.url)}`);
      const missingFrom = (events: any[]) => {
        const seen = new Set(events.map((e) => e.message.body));
        return Array.from({ length: N }, (_, i) => `bulk-${i}`).filter((body) => !seen.has(body)).slice(0, 10).join(', ');
      };
      const resumedAt = fromA.at(-1)?.cursor;
      throw new Error(`${(err as Error).message}; missing on B: ${missingFrom(onB.events)}; missing on A (first ${fromA.length}, then resumed after ${resumedAt} ${onA.events.length}): ${missingFrom([...fromA, ...onA.events])}; A's first stream's field errors and bodiless messages ${JSON.stringify(fieldErrorsA).slice(0, 500)}; hub A ${JSON.stringify(a.app.hub.head())}, hub B ${JSON.stringify(b.app.hub.head())}; ${JSON.stringify(state.rows[0])}`);
    };
    await onB.waitFor(N, 120_000).catch(explain);
    await onA.waitFor(N - fromA.length, 120_000).catch(explain);
    const bodiesB = onB.events.map((e) => e.message.body);
    const bodiesA = [...fromA, ...onA.events].map((e) => e.message.body);
    const log = new pg.Client({ connectionString: a.db.url });
    await log.connect();
    const committed = await log.query(`select xid::text as xid, id::text as id, payload->'message'->>'body' as body from events where thread_id = $1 and type = 'MESSAGE_ADDED' order by events.xid, events.id`, [threadId]);
    await log.end();
    const bulkRows = committed.rows.filter((r) => (r.body as string).startsWith('bulk-'));
    const expected = bulkRows.map((r) => r.body as string);
    // Exactly once, against the log: every bulk event's cursor once, in log order, on each stream.
    const expectedCursors = bulkRows.map((r) => encodeEventCursor(r.xid, r.id));
    if (exactlyOnceProblems(onB.events, expectedCursors).length || exactlyOnceProblems([...fromA, ...onA.events], expectedCursors).length) {
      console.log(`hub A: ${await hubSkips(a.app.hub, a.db.url)}\nhub B: ${await hubSkips(b.app.hub, b.db.url)}`);
    }
    expect(exactlyOnceProblems(onB.events, expectedCursors), `server B; field errors: ${JSON.stringify(onB.fieldErrors)}`).toEqual([]);
    expect(exactlyOnceProblems([...fromA, ...onA.events], expectedCursors), `resumed on A; field errors: ${JSON.stringify(onA.fieldErrors)}`).toEqual([]);
    expect(new Set(expected).size).toBe(N);
    const lostB = expected.filter((b) => !bodiesB.includes(b)).length;
    const lostA = expected.filter((b) => !bodiesA.includes(b)).length;
    console.log(`${N} messages, Redis cut twice: server B delivered ${bodiesB.length} (lost ${lostB}); resumed client on A delivered ${bodiesA.length} (lost ${lostA})`);
    expect(bodiesB).toEqual(expected);
    expect(bodiesA).toEqual(expected);
    onB.dispose();
    onA.dispose();
  });
});
