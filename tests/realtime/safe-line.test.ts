import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import { eventually } from '../support/wait';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { TAKE_EVENT_WRITER_LOCK } from '../../server/src/db/event-writer-lock';
import { readLog, readRange, SAFE_LINE, safeHead } from '../../server/src/realtime/event-log';
import { collect } from './support';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';

const THREAD = `subscription($t: ID!) { threadEvents(threadId: $t) { cursor type message { body } } }`;


/**
 * The event log's safe line is held only by transactions that write events (they take the event-writer lock
 * before they have a transaction id). These tests force each interleaving with explicit transactions.
 */
describe('the safe line of the event log', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;
  const open: pg.Client[] = [];

  const connect = async () => {
    const c = new pg.Client({ connectionString: server.db.url });
    await c.connect();
    open.push(c);
    return c;
  };
  const gqlOk = async (query: string, variables: Record<string, unknown>) => {
    const r = await server.gql<any>(query, variables, { token: supervisor.token });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!;
  };
  const startThread = (phone: string) =>
    gqlOk(`mutation($w: ID!, $p: String!) { startThread(input: { workspaceId: $w, phone: $p, body: "start" }) { id } }`, { w: W.id, p: phone }).then((d) => d.startThread.id as string);
  const send = (threadId: string, body: string) => gqlOk(`mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: threadId, b: body });

  /** Appends an event by hand, the way an outside writer must: the writer lock first, then the insert. */
  const appendRaw = async (c: pg.Client, threadId: string, body: string) => {
    const { rows } = await c.query(`select organization_id, workspace_id from threads where id = $1`, [threadId]);
    const payload = JSON.stringify({ thread: { id: threadId, status: 'OPEN', archived: false, needsResponse: false, assigneeUserId: null, assigneeGroupId: null, lastActivityAt: new Date().toISOString(), campaignId: null }, message: { id: threadId, direction: 'OUTBOUND', body, status: 'QUEUED', authorId: null, automated: false, createdAt: new Date().toISOString() } });
    const r = await c.query(`insert into events (organization_id, workspace_id, type, thread_id, payload) values ($1, $2, 'MESSAGE_ADDED', $3, $4) returning xid::text as xid`, [rows[0].organization_id, rows[0].workspace_id, threadId, payload]);
    return r.rows[0].xid as string;
  };

  beforeAll(async () => {
    // No delivery receipts and no background log consumers (rollups, shortcode keywords): a receipt landing
    // late, or a consumer's transaction (it holds the writer lock) running while a test reads the head, would
    // move or hold the line the test asserts.
    server = await bootServer({ channel: new SandboxProvider(null), rollups: false, sweepSnoozes: false });
    org = new OrgBuilder(server.app, 'Line Co');
    W = org.workspace('West');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.end().catch(() => undefined);
  });
  afterAll(async () => {
    await server.close();
  });

  it('is not held back by a long transaction of the same database that writes no events', async () => {
    const threadId = await startThread('+15554000001');
    const stream = collect(server.wsClient({ connectionParams: { authorization: `Bearer ${supervisor.token}` } }), THREAD, { t: threadId }, (d) => d.threadEvents);
    // An unrelated session holds a transaction id and stays idle in its transaction (a report, an import).
    const idle = await connect();
    await idle.query('begin');
    await idle.query('select pg_current_xact_id()');
    // Until the subscription is live, messages may land before it: send until one arrives.
    let n = 0;
    const deadline = Date.now() + 60_000;
    while (!stream.events.some((e) => e.message?.body?.startsWith('while-idle')) && Date.now() < deadline) {
      await send(threadId, `while-idle-${n++}`);
      await stream.waitFor(stream.events.length + 1, 2_000).catch(() => undefined);
    }
    expect(stream.events.some((e) => e.message?.body?.startsWith('while-idle'))).toBe(true);
    // The unrelated transaction was open the whole time.
    expect((await idle.query(`select pg_current_xact_id_if_assigned() is not null as open`)).rows[0].open).toBe(true);
    await idle.query('rollback');
    stream.dispose();
  });

  it('skips a running transaction without the writer lock, but stops at one that holds it', async () => {
    const threadId = await startThread('+15554000002');
    const reader = await connect();
    const line = async () => (await reader.query(`select ${SAFE_LINE}::text as line`)).rows[0].line as string;

    const bystander = await connect();
    await bystander.query('begin');
    const bystanderXid = (await bystander.query('select pg_current_xact_id()::text as x')).rows[0].x as string;
    // Another database's transaction ending at the instant of a read may hold one read back: ask again.
    await eventually(line, (l) => BigInt(l) > BigInt(bystanderXid), { what: 'the line to pass the bystander', intervalMs: 20 });

    const writer = await connect();
    await writer.query('begin');
    await writer.query(TAKE_EVENT_WRITER_LOCK);
    const writerXid = await appendRaw(writer, threadId, 'slow writer');
    expect(BigInt(await line())).toBeLessThanOrEqual(BigInt(writerXid));
    await eventually(line, (l) => l === writerXid, { what: 'the line to stop at the open writer', intervalMs: 20 });
    await writer.query('commit');
    await eventually(line, (l) => BigInt(l) > BigInt(writerXid), { what: 'the line to pass the committed writer', intervalMs: 20 });
    await bystander.query('rollback');
  });

  it('holds at a writer that commits between the snapshot and the lock read, and never returns what the snapshot cannot see', async () => {
    const threadId = await startThread('+15554000003');
    const writer = await connect();
    await writer.query('begin');
    await writer.query(TAKE_EVENT_WRITER_LOCK);
    const slowXid = await appendRaw(writer, threadId, 'slow');
    // A later writer commits first: its event sorts after the slow one.
    const later = await connect();
    await later.query('begin');
    await later.query(TAKE_EVENT_WRITER_LOCK);
    const laterXid = await appendRaw(later, threadId, 'later');
    await later.query('commit');
    expect(BigInt(laterXid)).toBeGreaterThan(BigInt(slowXid));

    // A repeatable-read reader keeps one snapshot (taken while `slow` runs) across statements, while pg_locks
    // is read afresh each time: exactly the moment of a writer ending between snapshot and lock read.
    const reader = await connect();
    await reader.query('begin isolation level repeatable read');
    const before = (await reader.query(`select ${SAFE_LINE}::text as line`)).rows[0].line as string;
    expect(BigInt(before)).toBeLessThanOrEqual(BigInt(slowXid));
    await writer.query('commit');
    const after = (await reader.query(`select ${SAFE_LINE}::text as line`)).rows[0].line as string;
    expect(BigInt(after)).toBeLessThanOrEqual(BigInt(slowXid));
    const visible = await reader.query(`select payload->'message'->>'body' as body from events where thread_id = $1 and xid < (${SAFE_LINE}) order by xid, id`, [threadId]);
    expect(visible.rows.map((r) => r.body)).not.toContain('later');
    await reader.query('rollback');

    // A fresh read sees both, in commit-safe order.
    const fresh = await connect();
    const rows = await fresh.query(`select payload->'message'->>'body' as body from events where thread_id = $1 and xid < (${SAFE_LINE}) and type = 'MESSAGE_ADDED' order by xid, id`, [threadId]);
    expect(rows.rows.map((r) => r.body).slice(-2)).toEqual(['slow', 'later']);
  });

  it('takes the writer lock in every server transaction before it has a transaction id', async () => {
    const threadId = await startThread('+15554000004');
    const seen: string[] = [];
    const em = server.app.orm.em.fork();
    await em.transactional(async (tx) => {
      const conn = tx.getConnection();
      const trx = tx.getTransactionContext();
      const rows = await conn.execute<Array<{ locked: boolean; xid: string | null }>>(
        `select exists (select 1 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and classid = 1396852054::oid) as locked,
                pg_current_xact_id_if_assigned()::text as xid`,
        [],
        'all',
        trx,
      );
      seen.push(String(rows[0]!.locked), String(rows[0]!.xid));
    });
    expect(seen).toEqual(['true', 'null']);
    expect(threadId).toBeTruthy();
  });

  it('orders positions as numbers, not text: the head and a replay put id 1000000000 after 999999999', async () => {
    const threadId = await startThread('+15554000005');
    const writer = await connect();
    const { rows } = await writer.query(`select organization_id, workspace_id from threads where id = $1`, [threadId]);
    await writer.query('begin');
    await writer.query(TAKE_EVENT_WRITER_LOCK);
    const insert = (id: string) =>
      writer.query(`insert into events (id, organization_id, workspace_id, type, thread_id, payload) overriding system value values ($1, $2, $3, 'THREAD_UPDATED', $4, '{}') returning xid::text as xid`, [id, rows[0].organization_id, rows[0].workspace_id, threadId]);
    const { rows: [{ xid }] } = await insert('999999999');
    await insert('1000000000');
    await writer.query('commit');
    const em = server.app.orm.em.fork();
    expect(await safeHead(em)).toEqual({ xid, id: '1000000000' });
    const replay = await readRange(em, { xid, id: '0' }, { xid, id: '1000000000' }, 10, { organizationId: rows[0].organization_id, workspaceIds: [rows[0].workspace_id] });
    expect(replay.map((e) => e.id)).toEqual(['999999999', '1000000000']);
    const c = await connect();
    await c.query(`delete from events where id in (999999999, 1000000000)`);
  });

  it('a tailer racing writers that commit while it reads passes no event (locks matched by backend, not virtual transaction)', async () => {
    const threadId = await startThread('+15554000006');
    const em = server.app.orm.em.fork();
    const start = await safeHead(em);
    const writers = await Promise.all(Array.from({ length: 4 }, () => connect()));
    const COMMITS = Number(process.env.SAFE_LINE_RACE_COMMITS ?? 500);
    let writing = true;
    const written = Promise.all(
      writers.map(async (w, k) => {
        for (let i = 0; i < COMMITS; i++) {
          await w.query('begin');
          await w.query(TAKE_EVENT_WRITER_LOCK);
          await appendRaw(w, threadId, `race-${k}-${i}`);
          await w.query('commit');
        }
      }),
    ).finally(() => {
      writing = false;
    });
    // A tailer as the hub runs one: from its cursor up to the safe line, the highest line kept as a floor.
    const returned: string[] = [];
    let cursor = start;
    let floor = '0';
    const tail = async () => {
      for (;;) {
        const read = await readLog(em, cursor, 500, floor);
        floor = read.line;
        for (const e of read.events) returned.push(`${e.xid}:${e.id}`);
        if (read.events.length) cursor = read.events.at(-1)!;
        if (read.events.length < 500) return;
      }
    };
    while (writing) await tail();
    await written;
    await tail();
    const c = await connect();
    const log = await c.query(`select xid::text || ':' || id::text as at, payload->'message'->>'body' as body from events where (xid, id) > ($1::xid8, $2::bigint) order by events.xid, events.id`, [start.xid, start.id]);
    expect(log.rows.filter((r) => r.body?.startsWith('race-'))).toHaveLength(4 * COMMITS);
    // Every event after the start (the race's, and any receipts of the thread's first message), once, in order.
    expect(returned).toEqual(log.rows.map((r) => r.at));
  });
});
